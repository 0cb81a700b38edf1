"""What a change file means, once loaded: the shared model of the runner.

Loading (`runner/changes.py`) produces these; executing, fresh plans and
redrive checks consume them. Frozen so a loaded change can be hashed and
compared safely.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Operation:
    """One statement of an apply script, or one step of a multi-step change."""

    seq: int                      # counts from 1
    statement: str                # the SQL text, as it will be executed
    hash: str                     # "h1:" + sha256 of the normalised statement
    rollback: str | None = None   # a step's own rollback script (steps form only)
    rollback_hash: str | None = None


@dataclass(frozen=True)
class Change:
    """One change file, validated and split into operations."""

    id: str
    target: str
    author: str | None
    transactional: bool
    recovery: str                 # a `Recovery` value: MANUAL_INTERVENTION | ALWAYS_RETRY
    operations: tuple[Operation, ...]
    rollback: str | None          # the whole-change rollback script (apply/rollback form)
    rollback_hash: str | None
    checksum: str                 # covers id, target, transactional, recovery, every hash
    source_file: Path             # absolute path of the change file
    order: str                    # file name: changes run in file-name order

    @property
    def has_rollback(self) -> bool:
        return self.rollback is not None or any(op.rollback for op in self.operations)
