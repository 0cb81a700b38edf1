"""What a new apply would run now, and checksum drift.

`fresh_plan` is pure: it reads the folded audit state and the loaded change
files and writes nothing, so the runner plans with it and a redrive is checked
against it with the same code. The caller folds the audit log first
(`Store.refresh()`); `App.store()` and the runner both do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from setright.db import Connection
from setright.fingerprint import compact_fingerprints
from setright.frozen import made, made_from
from setright.runner.model import Change
from setright.store.applies import OperationSpec, TaskSpec, applied_checksums, tasks_of
from setright.store.states import DONE_STATES, TaskState
from setright.yamlfile import relative_text

_BATCH = 500  # SQLite's default limit on bound parameters is 999


@dataclass(frozen=True)
class PlannedChange:
    """One pending change as a new apply would run it: its loaded change and its current
    state (what the plan says of the change is read from the change when asked: a run
    plans 2,000 changes and asks only for their fingerprint)."""

    change: Change
    root: Path | None                              # what `source_file` is relative to
    current_state: str | None                      # None: never run
    current_audit_id: int | None

    @property
    def change_id(self) -> str:
        return self.change.id

    @property
    def checksum(self) -> str:
        return self.change.checksum

    @property
    def operations(self) -> tuple[tuple[int, str], ...]:
        """(seq, hash) of each operation."""
        return tuple([(op.seq, op.hash) for op in self.change.operations])

    @property
    def source_file(self) -> str:
        return shown_path(self.change.source_file, self.root)

    def canonical(self) -> dict[str, Any]:
        """What identifies the work, compactly: the checksum covers every operation's hash,
        so the fingerprint hashes their count, not 10,000 hashes."""
        return {"change_id": self.change.id, "checksum": self.change.checksum,
                "operations": len(self.change.operations)}

    def as_dict(self) -> dict[str, Any]:
        change = self.change
        return {"change_id": change.id, "checksum": change.checksum,
                "operations": [[seq, digest] for seq, digest in self.operations],
                "transactional": change.transactional,
                "recovery_strategy": change.recovery, "order": change.order,
                "source_file": self.source_file, "current_state": self.current_state,
                "current_audit_id": self.current_audit_id}


@dataclass(frozen=True)
class FreshPlan:
    target: str
    changes: tuple[PlannedChange, ...]

    def canonical(self) -> dict[str, Any]:
        return {"target": self.target, "changes": [c.canonical() for c in self.changes]}

    def fingerprint(self) -> str:
        """DeepHash over compact data: the canonical JSON text is one leaf,
        where the dicts of 2,000 changes are 8,000 nodes; any changed id, checksum or
        count still changes the print."""
        return compact_fingerprints([self.canonical()])[0]

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "fingerprint": self.fingerprint(),
                "changes": [c.as_dict() for c in self.changes]}


def fresh_plan(conn: Connection, changes: Sequence[Change], target: str, *,
               root: Path | None = None) -> FreshPlan:
    """The target's pending changes in run order: current state not APPLIED/MANUAL_MARKED_AS_APPLIED.

    `changes` are the target's loaded change files (`load_all(config)[target]`);
    `root` makes `source_file` relative to the project, as in the audit log.
    """
    mine = [c for c in changes if c.target == target]
    states = current_states(conn, [c.id for c in mine])
    planned = []
    for change in mine:
        state, audit_id = states.get(change.id, (None, None))
        if state in DONE_STATES:
            continue
        planned.append(made(PlannedChange, {  # PlannedChange(...) at half the cost
            "change": change, "root": root, "current_state": state, "current_audit_id": audit_id,
        }))
    return FreshPlan(target, tuple(planned))


def task_specs(plan: FreshPlan, changes: Iterable[Change]) -> list[TaskSpec]:
    """The rows a new apply is created with, in plan order."""
    by_id = {c.id: c for c in changes}
    specs = []
    for planned in plan.changes:
        change = by_id[planned.change.id]
        specs.append(made(TaskSpec, {
            "change_id": change.id, "checksum": change.checksum,
            "transactional": change.transactional, "recovery_strategy": change.recovery,
            "operations": tuple([made_from(OperationSpec, (op.seq, op.statement, op.hash))
                                 for op in change.operations]),
        }))
    return specs


@dataclass(frozen=True)
class Drift:
    """An applied change whose file no longer has the checksum it was applied with."""

    change_id: str
    source_file: str
    applied_checksum: str
    file_checksum: str

    def describe(self) -> str:
        return (f"{self.source_file}: change {self.change_id} was applied with checksum "
                f"{self.applied_checksum}, the file now has {self.file_checksum}")

    def as_dict(self) -> dict[str, str]:
        return {"change_id": self.change_id, "source_file": self.source_file,
                "applied_checksum": self.applied_checksum, "file_checksum": self.file_checksum}


def find_drift(conn: Connection, changes: Sequence[Change], target: str, *,
               root: Path | None = None) -> list[Drift]:
    """Applied changes edited since (Flyway's `validate`); pure, like `fresh_plan`.

    The applied checksum is the one recorded on the task that last completed
    the change; a change applied outside setright (a Flamingock row, a manual
    mark with no task) has none and cannot drift.
    """
    mine = [c for c in changes if c.target == target]
    recorded = applied_checksums(conn, target)
    states = current_states(conn, [c.id for c in mine if c.id in recorded])
    drift = []
    for change in mine:
        applied = recorded.get(change.id)
        state = states.get(change.id, (None, None))[0]
        if applied and state in DONE_STATES and applied != change.checksum:
            drift.append(Drift(change.id, shown_path(change.source_file, root), applied,
                               change.checksum))
    return drift


@dataclass(frozen=True)
class ResumeDrift:
    """An unfinished task of a failed_retryable apply whose change file changed since the
    apply was planned, or is gone: `run` refuses to resume the apply."""

    apply_id: str
    change_id: str
    source_file: str | None          # None: the change file is gone
    planned_checksum: str
    file_checksum: str | None

    def describe(self) -> str:
        if self.source_file is None:
            return f"change {self.change_id}: its change file is gone"
        return (f"{self.source_file}: change {self.change_id} was planned with checksum "
                f"{self.planned_checksum}, the file now has {self.file_checksum}")

    def as_dict(self) -> dict[str, str | None]:
        return {"apply_id": self.apply_id, "change_id": self.change_id,
                "source_file": self.source_file, "planned_checksum": self.planned_checksum,
                "file_checksum": self.file_checksum}


def resume_drift(conn: Connection, apply_id: str, changes: Sequence[Change], *,
                 root: Path | None = None) -> list[ResumeDrift]:
    """What keeps apply `apply_id` from resuming: a resumed apply runs what was planned, so
    every unfinished task's file must be as it was (pure, like `find_drift`)."""
    by_id = {c.id: c for c in changes}
    drift = []
    for task in tasks_of(conn, apply_id):
        if task.state in (TaskState.COMPLETED, TaskState.CANCELLED):
            continue
        change = by_id.get(task.change_id)
        if change is None:
            drift.append(ResumeDrift(apply_id, task.change_id, None, task.checksum, None))
        elif change.checksum != task.checksum:
            drift.append(ResumeDrift(apply_id, change.id,
                                     shown_path(change.source_file, root), task.checksum,
                                     change.checksum))
    return drift


def current_states(conn: Connection,
                   change_ids: Sequence[str]) -> dict[str, tuple[str, int]]:
    """change id → (folded current state, deciding audit row id), by primary-key lookups."""
    found: dict[str, tuple[str, int]] = {}
    for start in range(0, len(change_ids), _BATCH):
        batch = change_ids[start:start + _BATCH]
        marks = ", ".join("?" for _ in batch)
        for change_id, state, audit_id in conn.execute(
                "SELECT change_id, state, audit_id FROM setright_change_state"
                f" WHERE change_id IN ({marks})", batch):
            found[change_id] = (state, audit_id)
    return found


def moved_changes(conn: Connection, changes: Sequence[Change], target: str,
                  targets: Iterable[str]) -> list[tuple[Change, str]]:
    """This target's changes whose audit rows say another configured target ran them: a
    file moved into this target's folder, which a lookup by id alone takes for done here.
    (A target renamed in the configuration is not another target: its old name is gone.)"""
    others = set(targets) - {target}
    mine = {c.id: c for c in changes if c.target == target}
    ids = list(mine)
    moved = []
    for start in range(0, len(ids), _BATCH):
        batch = ids[start:start + _BATCH]
        marks = ", ".join("?" for _ in batch)
        for change_id, recorded in conn.execute(
                "SELECT change_id, target_system_id FROM setright_change_state"
                f" WHERE change_id IN ({marks}) AND target_system_id <> ?", [*batch, target]):
            if recorded in others:
                moved.append((mine[change_id], recorded))
    return moved


def shown_path(path: Path, root: Path | None) -> str:
    """A change file as recorded and shown: relative to the project root when inside it."""
    if root is not None:
        fast = relative_text(str(path), root)
        if fast is not None:
            return fast
        try:  # loaded change files and the config root are absolute already: no resolve()
            return path.relative_to(root).as_posix()
        except ValueError:
            try:
                return path.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                pass
    return str(path)
