"""Asking before a write: 'yes' only, and never without a terminal."""

from __future__ import annotations

import sys

import click

from setright.errors import SetrightError


def confirm(question: str, *, assume_yes: bool, flag: str) -> None:
    """Return if approved; raise (nothing written) otherwise."""
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise SetrightError(f"no terminal to confirm on; pass {flag} to proceed without asking")
    answer = click.prompt(f"{question} Only 'yes' will be accepted", default="",
                          show_default=False, prompt_suffix=": ")
    if answer.strip() != "yes":
        raise SetrightError("apply cancelled; nothing was written")
