"""Applies, their tasks and operations: creating the rows and reading them back.

An apply is written once, whole (apply + every task + every operation, all
`pending`), in the caller's transaction; after that only guarded transitions
(`store.transitions`) move it. The readers here return plain frozen rows so
the runner, the planner and the renderers share one view of an apply. Every
query filters on an indexed column: applies by id or `(target, state)`, tasks
and operations by their `apply_id` primary-key prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from setright.db import Connection
from setright.db.impl import impl_of
from setright.errors import TransitionRefused, UnknownId
from setright.frozen import made_from
from setright.store.connection import Store
from setright.store.locks import Locker
from setright.store.schema import NON_TERMINAL_APPLY_STATES, creation_order
from setright.store.states import ApplyState, TaskState
from setright.store.transitions import Provenance, move_apply, move_task, record_event


@dataclass(frozen=True)
class OperationSpec:
    seq: int
    statement: str
    hash: str


@dataclass(frozen=True)
class TaskSpec:
    """One change as planned into an apply."""

    change_id: str
    checksum: str
    transactional: bool
    recovery_strategy: str
    operations: tuple[OperationSpec, ...]


@dataclass(frozen=True)
class ApplyRow:
    id: str
    target: str
    state: str
    attempt: int
    max_attempts: int
    error: str | None
    plan_json: str | None
    plan_fingerprint: str | None
    caller: str | None
    created_at: str
    started_at: str | None
    updated_at: str | None
    completed_at: str | None
    lease_owner: str | None
    lease_token: str | None
    lease_expires_at: str | None

    def as_dict(self, *, with_plan: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_plan:
            data.pop("plan_json")
        return data

    @property
    def terminal(self) -> bool:
        return self.state not in NON_TERMINAL_APPLY_STATES


@dataclass(frozen=True)
class TaskRow:
    apply_id: str
    position: int
    change_id: str
    checksum: str | None
    transactional: bool
    recovery_strategy: str | None
    state: str
    attempt: int
    error: str | None
    started_at: str | None
    completed_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class OperationRow:
    apply_id: str
    change_id: str
    seq: int
    statement: str
    hash: str | None
    state: str
    error: str | None
    completed_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_APPLY_COLUMNS = ("id, target, state, attempt, max_attempts, error, plan_json, plan_fingerprint,"
                  " caller, created_at, started_at, updated_at, completed_at, lease_owner,"
                  " lease_token, lease_expires_at")
_TASK_COLUMNS = ("apply_id, position, change_id, checksum, transactional, recovery_strategy,"
                 " state, attempt, error, started_at, completed_at")
_OPERATION_COLUMNS = "apply_id, change_id, seq, statement, hash, state, error, completed_at"
_OPERATION_COLUMNS_QUALIFIED = ", ".join(f"o.{c.strip()}" for c in _OPERATION_COLUMNS.split(","))


def _apply(row: Sequence[Any]) -> ApplyRow:
    return ApplyRow(*row[:3], int(row[3] or 0), int(row[4] or 0), *row[5:])


def _task(row: Sequence[Any]) -> TaskRow:
    return made_from(TaskRow, (row[0], int(row[1]), row[2], row[3], bool(row[4]), row[5],
                               row[6], int(row[7] or 0), *row[8:]))


# -- writing ---------------------------------------------------------------


def insert_apply(
    tx: Connection, *, apply_id: str, target: str, tasks: Sequence[TaskSpec],
    max_attempts: int, caller: str, plan_json: str, plan_fingerprint: str, at: str,
    prov: Provenance, lease_owner: str | None = None, lease_token: str | None = None,
    lease_expires_at: str | None = None,
) -> None:
    """Insert a `pending` apply with its tasks and operations (positions and seqs from 1).

    The unique partial index refuses a second non-terminal apply on the target;
    that refusal is reported as a `TransitionRefused`, never as a raw SQLite error.
    """
    try:
        tx.execute(
            f"INSERT INTO setright_applies ({_APPLY_COLUMNS}) VALUES"
            " (?, ?, ?, 0, ?, NULL, ?, ?, ?, ?, NULL, ?, NULL, ?, ?, ?)",
            (apply_id, target, ApplyState.PENDING.value, max_attempts, plan_json,
             plan_fingerprint, caller, at, at, lease_owner, lease_token, lease_expires_at),
        )
    except Exception as exc:
        if not impl_of(tx).is_integrity_error(exc):
            raise
        active = active_apply(tx, target)
        raise TransitionRefused(
            f"target {target} already has a non-terminal apply"
            + (f" ({active.id}, {active.state})" if active else ""),
            ["at most one apply per target may be pending, running or failed_retryable"],
        ) from None
    tx.executemany(
        "INSERT INTO setright_tasks (apply_id, position, change_id, checksum, transactional,"
        " recovery_strategy, state, attempt) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
        [(apply_id, position, t.change_id, t.checksum, int(t.transactional),
          t.recovery_strategy, TaskState.PENDING.value)
         for position, t in enumerate(tasks, start=1)],
    )
    tx.executemany(
        "INSERT INTO setright_operations (apply_id, change_id, seq, statement, hash, state)"
        " VALUES (?, ?, ?, ?, ?, 'pending')",
        [(apply_id, t.change_id, op.seq, op.statement, op.hash)
         for t in tasks for op in t.operations],
    )
    record_event(tx, at=at, kind="apply", prov=prov, apply_id=apply_id, old_state=None,
                 new_state=ApplyState.PENDING.value,
                 extra={"target": target, "tasks": len(tasks), "max_attempts": max_attempts})


CANCELLABLE_APPLY_STATES = (ApplyState.PENDING, ApplyState.FAILED_RETRYABLE, ApplyState.FAILED)
_CANCELLABLE_TASK_STATES = (TaskState.PENDING, TaskState.RUNNING, TaskState.FAILED,
                            TaskState.FAILED_RETRYABLE)


def cancel_apply_rows(tx: Connection, apply_id: str, prov: Provenance, *,
                      at: str) -> ApplyRow:
    """`applies cancel`: the apply and its unfinished tasks → cancelled (guarded, with events).

    It resolves no partial state: the audit log is untouched, so a change that
    failed half-way is still an issue after its apply is cancelled.
    """
    apply = get_apply(tx, apply_id)
    if apply.state not in CANCELLABLE_APPLY_STATES:
        hint = ("a running apply is cancelled by its runner only; if that runner is gone, "
                "'setright run' reaps it once its lease expires"
                if apply.state == ApplyState.RUNNING else "it is already finished")
        raise TransitionRefused(
            f"apply {apply_id} is {apply.state}; only pending, failed_retryable or failed "
            "applies can be cancelled", [hint])
    move_apply(tx, apply_id, [ApplyState(apply.state)], ApplyState.CANCELLED, prov, at=at,
               fields={"completed_at": at})
    for task in tasks_of(tx, apply_id):
        if task.state in _CANCELLABLE_TASK_STATES:
            move_task(tx, apply_id, task.position, [TaskState(task.state)], TaskState.CANCELLED,
                      prov, at=at, fields={"completed_at": at})
    return get_apply(tx, apply_id)


# -- reading ---------------------------------------------------------------


def find_apply(conn: Connection, apply_id: str) -> ApplyRow | None:
    row = conn.execute(f"SELECT {_APPLY_COLUMNS} FROM setright_applies WHERE id = ?",
                       (apply_id,)).fetchone()
    return _apply(row) if row else None


def get_apply(conn: Connection, apply_id: str) -> ApplyRow:
    apply = find_apply(conn, apply_id)
    if apply is None:
        raise UnknownId(f"no apply {apply_id!r} in the audit store",
                        ["see 'setright applies list'"])
    return apply


def list_applies(conn: Connection, *, state: str | None = None,
                 target: str | None = None, limit: int | None = None) -> list[ApplyRow]:
    """Applies, newest first (creation time, then insertion order)."""
    where, params = ["1 = 1"], []
    if state is not None:
        where.append("state = ?")
        params.append(state)
    if target is not None:
        where.append("target = ?")
        params.append(target)
    sql = (f"SELECT {_APPLY_COLUMNS} FROM setright_applies WHERE {' AND '.join(where)}"
           f" ORDER BY {creation_order(conn, 'setright_applies', descending=True)}")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [_apply(row) for row in conn.execute(sql, params)]


def task_progress(conn: Connection, state: str | None = None) -> dict[str, tuple[int, int]]:
    """apply id → (tasks completed, tasks) for every apply (in `state`), in one query."""
    where, params = ("", ()) if state is None else (
        " WHERE apply_id IN (SELECT id FROM setright_applies WHERE state = ?)", (state,))
    return {apply_id: (int(done), int(total)) for apply_id, done, total in conn.execute(
        "SELECT apply_id, coalesce(sum(CASE WHEN state = 'completed' THEN 1 ELSE 0 END), 0),"
        f" count(*) FROM setright_tasks{where} GROUP BY apply_id", params)}


def active_apply(conn: Connection, target: str) -> ApplyRow | None:
    """The target's one non-terminal apply (pending, running or failed_retryable), if any."""
    marks = ", ".join("?" for _ in NON_TERMINAL_APPLY_STATES)
    row = conn.execute(
        f"SELECT {_APPLY_COLUMNS} FROM setright_applies WHERE target = ? AND state IN ({marks})",
        (target, *NON_TERMINAL_APPLY_STATES)).fetchone()
    return _apply(row) if row else None


def latest_apply(conn: Connection, target: str) -> ApplyRow | None:
    applies = list_applies(conn, target=target, limit=1)
    return applies[0] if applies else None


def tasks_of(conn: Connection, apply_id: str) -> list[TaskRow]:
    rows = conn.execute(
        f"SELECT {_TASK_COLUMNS} FROM setright_tasks WHERE apply_id = ? ORDER BY position",
        (apply_id,))
    return [_task(row) for row in rows]




def operations_of(conn: Connection, apply_id: str,
                  change_id: str | None = None) -> list[OperationRow]:
    """Operations of an apply (or of one of its changes), in change then seq order."""
    if change_id is None:
        rows = conn.execute(
            f"SELECT {_OPERATION_COLUMNS_QUALIFIED} FROM setright_operations o"
            " JOIN setright_tasks t ON t.apply_id = o.apply_id AND t.change_id = o.change_id"
            " WHERE o.apply_id = ? ORDER BY t.position, o.seq", (apply_id,))
    else:
        rows = conn.execute(
            f"SELECT {_OPERATION_COLUMNS} FROM setright_operations"
            " WHERE apply_id = ? AND change_id = ? ORDER BY seq", (apply_id, change_id))
    return [OperationRow(*row) for row in rows]


def operation_states(conn: Connection, apply_id: str) -> dict[str, dict[int, str]]:
    """change id → {seq: state} of every operation of an apply, in one query."""
    states: dict[str, dict[int, str]] = {}
    for change_id, seq, state in conn.execute(
            "SELECT change_id, seq, state FROM setright_operations WHERE apply_id = ?",
            (apply_id,)):
        states.setdefault(change_id, {})[int(seq)] = state
    return states


def operation_progress(conn: Connection, apply_id: str) -> tuple[int, int]:
    """(completed operations, all operations) of an apply."""
    row = conn.execute(
        "SELECT count(*), coalesce(sum(CASE WHEN state = 'completed' THEN 1 ELSE 0 END), 0)"
        " FROM setright_operations"
        " WHERE apply_id = ?", (apply_id,)).fetchone()
    return int(row[1]), int(row[0])


def applied_checksums(conn: Connection, target: str) -> dict[str, str]:
    """Checksum each change had when a task of this target last completed it."""
    rows = conn.execute(
        "SELECT t.change_id, t.checksum FROM setright_tasks t"
        " JOIN setright_applies a ON a.id = t.apply_id"
        " WHERE a.target = ? AND t.state = 'completed' AND t.checksum IS NOT NULL"
        f" ORDER BY {creation_order(conn, 'a')}, t.position", (target,))
    return {change_id: checksum for change_id, checksum in rows}




def cancel_apply(store: Store, apply_id: str, prov: Provenance, *,
                 lock_ttl: float) -> tuple[str, ApplyRow, int]:
    """Cancel under the target lock, so a runner about to resume the apply cannot race us.

    Returns (previous state, the cancelled apply, tasks cancelled). A live
    lock raises `LockHeld` with its Lock Info; nothing is written then.
    """
    apply = get_apply(store.conn, apply_id)
    locker = Locker(store, ttl=lock_ttl)
    lock, _ = locker.acquire(f"target:{apply.target}", "applies cancel",
                             info=f"cancel {apply_id}")
    try:
        with store.write() as tx:
            before = get_apply(tx, apply_id)
            open_tasks = sum(1 for t in tasks_of(tx, apply_id)
                             if t.state in _CANCELLABLE_TASK_STATES)
            after = cancel_apply_rows(tx, apply_id, prov, at=store.now_iso())
    finally:
        locker.release_quietly(lock)
    return before.state, after, open_tasks
