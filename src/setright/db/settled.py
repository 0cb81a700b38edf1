"""What a target's catalog says about an operation whose marker is missing.

A runner killed between a statement that commits on its own (PostgreSQL's
`CREATE INDEX CONCURRENTLY`, any DDL on MySQL) and the marker that follows it
leaves the store unable to tell from the markers whether the statement took
effect. Each target answers from its catalog where it can be sure, and says
"unknown" otherwise: the reaper records what it is told, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settled:
    """`committed`: True (took effect), False (did not), None (the catalog cannot tell).
    `leftover`: it did not take effect but left an object behind (an invalid index)."""

    committed: bool | None
    note: str
    leftover: bool = False


#: The answer wherever a statement and its marker commit in one transaction.
ATOMIC = Settled(False, "no marker: its transaction did not commit")
