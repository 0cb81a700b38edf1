"""Asking before a write: 'yes' only, and never without a terminal."""

from __future__ import annotations

import sys

import click

from setright.errors import SetrightError


def stdin_is_terminal() -> bool:
    """Whether someone can answer (a seam: tests stand in for a terminal). Python leaves
    `sys.stdin` None when fd 0 was closed (`<&-`): no one can answer that either."""
    return sys.stdin is not None and sys.stdin.isatty()


def confirm(question: str, *, assume_yes: bool, flag: str,
            cancelled: str = "apply cancelled; nothing was written") -> None:
    """Return if approved; raise `cancelled` (nothing written) otherwise.

    `cancelled` names what was declined, so `audit fix` does not say "apply".
    """
    if assume_yes:
        return
    if not stdin_is_terminal():
        raise SetrightError(f"no terminal to confirm on; pass {flag} to proceed without asking")
    answer = click.prompt(f"{question} Only 'yes' will be accepted", default="",
                          show_default=False, prompt_suffix=": ")
    if answer.strip() != "yes":
        raise SetrightError(cancelled)
