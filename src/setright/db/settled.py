"""What a target's catalog says about an operation whose marker is missing, and who
holds a target's session lock.

A runner killed between a statement that commits on its own (PostgreSQL's
`CREATE INDEX CONCURRENTLY`, any DDL on MySQL) and the marker that follows it
leaves the store unable to tell from the markers whether the statement took
effect. Each target answers from its catalog where it can be sure, and says
"unknown" otherwise: the reaper records what it is told, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple


@dataclass(frozen=True)
class Settled:
    """`committed`: True (took effect), False (did not), None (the catalog cannot tell).
    `leftover`: it did not take effect but left an object behind (an invalid index)."""

    committed: bool | None
    note: str
    leftover: bool = False


class LockSession(NamedTuple):
    """The database session holding a target's session lock: who it is, and the statement
    that ends it (a runner killed mid-statement leaves its session running that statement)."""

    who: str
    end_with: str


#: The answer wherever a statement and its marker commit in one transaction.
ATOMIC = Settled(False, "no marker: its transaction did not commit")


def session_lock_info(conn: Any, path: str, session: str) -> list[str]:
    """A Lock Info block for a target whose session lock another runner holds: the lock,
    the database session holding it, and the runner that last claimed the target's fence
    (setright_runner_fence), which is who holds it whenever a setright runner does."""
    try:
        row = conn.execute("SELECT lock_id, owner, claimed_at FROM setright_runner_fence"
                           " WHERE id = 1").fetchone()
    except Exception:  # noqa: BLE001 - no fence yet, or unreadable: say what we know
        row = None
    lock_id, owner, claimed = row if row else ("unknown", "unknown", "unknown")
    return ["Lock Info:",
            f"  ID:        {lock_id}",
            f"  Path:      {path}",
            "  Operation: run",
            f"  Who:       {owner}",
            f"  Created:   {claimed}",
            f"  Session:   {session}"]
