"""Guarded state transitions for applies, tasks and operations.

Each move is one `UPDATE … WHERE state IN (:expected)` — plus, for runner
writes, `AND lease_token = :mine` — and one `setright_events` row. Zero rows
touched means someone else moved the row first: we raise instead of guessing.
Callers run these inside `Store.write()`, so a refusal rolls everything back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property, lru_cache
from itertools import groupby
from operator import itemgetter
from typing import Any, NoReturn

from setright.db import Connection
from setright.db.impl import impl_of
from setright.errors import LeaseLost, TransitionRefused, UnknownId
from setright.jsontext import sorted_json
from setright.store.states import (
    APPLY_TRANSITIONS,
    OPERATION_TRANSITIONS,
    TASK_TRANSITIONS,
    ApplyState,
    OperationState,
    TaskState,
)


@dataclass(frozen=True)
class Provenance:
    """Who moved something, and why; copied into events and audit metadata."""

    actor: str
    source: str = "runner"
    reason: str | None = None
    ticket: str | None = None
    resolution: str | None = None
    plan_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def event_shape(self) -> tuple[str, tuple[str, ...]]:
        """The INSERT of this provenance's events and the optional values it gives (its
        reason, ticket, resolution and plan, those it has), worked out once per provenance."""
        given = [(name, value) for name, value in (
            ("reason", self.reason), ("ticket", self.ticket), ("resolution", self.resolution),
            ("plan_id", self.plan_id)) if value is not None]
        return (_event_insert(tuple(name for name, _ in given)),
                tuple(value for _, value in given))


def record_event(
    tx: Connection, *, at: str, kind: str, prov: Provenance,
    apply_id: str | None = None, change_id: str | None = None,
    old_state: str | None = None, new_state: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> int:
    sql, values = _event_values(at, kind, prov, apply_id, change_id, old_state, new_state,
                                extra)
    return impl_of(tx).insert_returning_id(tx, sql, values)


_Event = tuple[str, tuple[Any, ...]]   # an event's INSERT and its values


class EventBatch:
    """The event rows of one transaction's moves, inserted together by `flush` (one
    `executemany` per run of rows with the same columns, not a statement per move): the
    same rows, in the same order. The caller flushes inside the transaction, before it
    commits; rows not flushed roll back with it."""

    def __init__(self) -> None:
        self.events: list[_Event] = []

    def add(self, *, at: str, kind: str, prov: Provenance, apply_id: str | None = None,
            change_id: str | None = None, old_state: str | None = None,
            new_state: str | None = None, extra: Mapping[str, Any] | None = None) -> None:
        """`record_event`'s row, inserted at the next `flush`."""
        self.events.append(_event_values(at, kind, prov, apply_id, change_id, old_state,
                                         new_state, extra))

    def flush(self, tx: Connection) -> None:
        for sql, run in groupby(self.events, key=itemgetter(0)):
            tx.executemany(sql, [values for _, values in run])
        self.events = []


def _record(tx: Connection, events: EventBatch | None, event: _Event) -> None:
    """An event row: into `events` when the caller batches them, else inserted now."""
    if events is None:
        tx.execute(*event)
    else:
        events.events.append(event)


_EVENT_COLUMNS = ("at", "apply_id", "change_id", "kind", "old_state", "new_state", "actor",
                  "source")


@lru_cache(maxsize=32)
def _event_insert(given: tuple[str, ...]) -> str:
    """The INSERT of an event whose provenance gives the columns `given` (one text per
    shape, so a batch of one provenance's events is one statement)."""
    columns = (*_EVENT_COLUMNS, *given, "metadata")
    return (f"INSERT INTO setright_events ({', '.join(columns)})"
            f" VALUES ({', '.join('?' for _ in columns)})")


def _event_values(at: str, kind: str, prov: Provenance, apply_id: str | None,
                  change_id: str | None, old_state: str | None, new_state: str | None,
                  extra: Mapping[str, Any] | None) -> _Event:
    """The event's INSERT and values. Provenance a move does not give (a runner gives no
    reason, ticket, resolution or plan) is left out of the statement, so it is NULL
    without a NULL bound for each: the runner writes three events per change."""
    metadata = {**prov.metadata, **(extra or {})}
    sql, given = prov.event_shape
    return sql, (at, apply_id, change_id, kind, old_state, new_state, prov.actor, prov.source,
                 *given, sorted_json(metadata) if metadata else None)


def _check_legal(kind: str, table: Mapping[Any, frozenset[Any]], expected: Iterable[StrEnum],
                 new: StrEnum) -> list[str]:
    """The expected states as text, once every move from them to `new` is legal. A legal
    combination is remembered (the runner asks the same few thousands of times); the
    caller must not change the list returned."""
    expected = tuple(expected)
    key = (kind, type(new), new, *expected)  # a state hashes and compares as its text
    known = _LEGAL.get(key)
    if known is not None:
        return known
    olds = [str(s) for s in expected]
    for old in olds:
        if new not in table[type(new)(old)]:
            raise TransitionRefused(f"illegal {kind} transition {old} → {new}")
    _LEGAL[key] = olds
    return olds


#: (kind, state type, new, *expected) → expected as text, for the legal moves seen so far
_LEGAL: dict[tuple[Any, ...], list[str]] = {}


def _guarded_update(
    tx: Connection, *, table: str, where: str, key: tuple[Any, ...],
    expected: list[str], new: str, fields: Mapping[str, Any], lease_token: str | None,
    apply_id: str, describe: str,
) -> str:
    """Run the guarded UPDATE; return the old state or raise explaining why no row moved.

    With one expected state, a moved row was in it: the state is read only to
    explain a refusal (one round trip per move, not two)."""
    current = None
    if len(expected) != 1:
        current = tx.execute(f"SELECT state FROM {table} WHERE {where}", key).fetchone()
        if current is None:
            raise UnknownId(f"no {describe} in the audit store")
    sql = _update_sql(table, where, tuple(fields), len(expected), lease_token is not None)
    params: list[Any] = [new, *fields.values(), *key, *expected]
    if lease_token is not None:
        params += [apply_id, lease_token]
    if tx.execute(sql, params).rowcount == 1:
        return str(current[0]) if current is not None else expected[0]
    _refuse(tx, table=table, where=where, key=key, expected=expected, lease_token=lease_token,
            apply_id=apply_id, describe=describe)


def _update_sql(table: str, where: str, fields: tuple[str, ...], expected: int,
                fenced: bool) -> str:
    """The guarded UPDATE's text, built once per shape (a runner moves thousands of rows
    with the same few)."""
    shape = (table, where, fields, expected, fenced)
    sql = _UPDATES.get(shape)
    if sql is None:
        sets = ", ".join(["state = ?", *(f"{column} = ?" for column in fields)])
        marks = ", ".join("?" for _ in range(expected))
        sql = f"UPDATE {table} SET {sets} WHERE {where} AND state IN ({marks})"
        if fenced:
            sql += " AND EXISTS (SELECT 1 FROM setright_applies WHERE id = ? AND lease_token = ?)"
        _UPDATES[shape] = sql
    return sql


_UPDATES: dict[tuple[Any, ...], str] = {}


def _refuse(tx: Connection, *, table: str, where: str, key: tuple[Any, ...],
            expected: list[str], lease_token: str | None, apply_id: str,
            describe: str) -> NoReturn:
    """Why a guarded UPDATE moved no row: gone, the lease lost, or another state."""
    current = tx.execute(f"SELECT state FROM {table} WHERE {where}", key).fetchone()
    if current is None:
        raise UnknownId(f"no {describe} in the audit store")
    if lease_token is not None:
        holder = tx.execute("SELECT lease_token FROM setright_applies WHERE id = ?",
                            (apply_id,)).fetchone()
        if holder is None or holder[0] != lease_token:
            raise LeaseLost(
                f"lease on apply {apply_id} was lost: another process took it over",
                [f"{describe} left {current[0]}; this runner stops here"],
            )
    raise TransitionRefused(
        f"{describe} is {current[0]}, expected {' or '.join(expected)}",
        ["it moved since it was read; nothing was written"],
    )


def move_apply(
    tx: Connection, apply_id: str, expected: Iterable[ApplyState], new: ApplyState,
    prov: Provenance, *, at: str, lease_token: str | None = None,
    fields: Mapping[str, Any] | None = None, event: Mapping[str, Any] | None = None,
    events: EventBatch | None = None,
) -> str:
    olds = _check_legal("apply", APPLY_TRANSITIONS, expected, new)
    old = _guarded_update(
        tx, table="setright_applies", where="id = ?", key=(apply_id,),
        expected=olds, new=str(new), fields={"updated_at": at, **(fields or {})},
        lease_token=lease_token, apply_id=apply_id, describe=f"apply {apply_id}",
    )
    _record(tx, events, _event_values(at, "apply", prov, apply_id, None, old, str(new), event))
    return old


def move_task(
    tx: Connection, apply_id: str, position: int, expected: Iterable[TaskState],
    new: TaskState, prov: Provenance, *, at: str, lease_token: str | None = None,
    fields: Mapping[str, Any] | None = None, event: Mapping[str, Any] | None = None,
    change_id: str | None = None, events: EventBatch | None = None,
) -> str:
    """`change_id`: the task's change, when the caller knows it (else it is read).
    `events`: the transaction's batch of event rows (else the event is inserted now)."""
    olds = _check_legal("task", TASK_TRANSITIONS, expected, new)
    if change_id is None:
        row = tx.execute("SELECT change_id FROM setright_tasks WHERE apply_id = ?"
                         " AND position = ?", (apply_id, position)).fetchone()
        change_id = row[0] if row else None
    old = _guarded_update(
        tx, table="setright_tasks", where="apply_id = ? AND position = ?",
        key=(apply_id, position), expected=olds, new=str(new), fields=fields or {},
        lease_token=lease_token, apply_id=apply_id,
        describe=f"task {position} of apply {apply_id}",
    )
    _record(tx, events, _event_values(at, "task", prov, apply_id, change_id, old, str(new),
                                      {"position": position, **(event or {})}))
    return old


def move_operation(
    tx: Connection, apply_id: str, change_id: str, seq: int,
    expected: Iterable[OperationState], new: OperationState, prov: Provenance, *, at: str,
    lease_token: str | None = None, fields: Mapping[str, Any] | None = None,
    event: Mapping[str, Any] | None = None, events: EventBatch | None = None,
) -> str:
    olds = _check_legal("operation", OPERATION_TRANSITIONS, expected, new)
    old = _guarded_update(
        tx, table="setright_operations",
        where="apply_id = ? AND change_id = ? AND seq = ?", key=(apply_id, change_id, seq),
        expected=olds, new=str(new), fields=fields or {}, lease_token=lease_token,
        apply_id=apply_id, describe=f"operation {seq} of change {change_id} in apply {apply_id}",
    )
    _record(tx, events, _event_values(at, "operation", prov, apply_id, change_id, old,
                                      str(new), {"seq": seq, **(event or {})}))
    return old


def move_operations(
    tx: Connection, apply_id: str, change_id: str, olds: Mapping[int, OperationState],
    new: OperationState, prov: Provenance, *, at: str, lease_token: str | None = None,
    fields: Mapping[str, Any] | None = None, events: EventBatch | None = None,
) -> None:
    """`move_operation` for many operations of one change whose states are known (seq →
    state): one guarded UPDATE per state and batch, the events in one `executemany`, so
    a change of 10,000 operations is not 20,000 round trips. The same rows and events."""
    for old in set(olds.values()):
        _check_legal("operation", OPERATION_TRANSITIONS, [old], new)
    fields = fields or {}
    seqs = sorted(olds)
    for start in range(0, len(seqs), _BATCH):
        batch = seqs[start:start + _BATCH]
        for old in sorted({olds[seq] for seq in batch}):
            moving = [seq for seq in batch if olds[seq] == old]
            params: list[Any] = [str(new), *fields.values(), apply_id, change_id, *moving,
                                 str(old)]
            if lease_token is not None:
                params += [apply_id, lease_token]
            sql = _update_sql("setright_operations", _seqs_where(len(moving)), tuple(fields),
                              1, lease_token is not None)
            moved = tx.execute(sql, params).rowcount
            if moved != len(moving):
                _refuse_any(tx, apply_id, change_id, moving, str(old), str(new), lease_token)
    batch = events if events is not None else EventBatch()
    batch.events.extend(
        _event_values(at, "operation", prov, apply_id, change_id, str(olds[seq]), str(new),
                      {"seq": seq}) for seq in seqs)
    if events is None:
        batch.flush(tx)


#: operations per guarded UPDATE (SQLite's default limit on bound parameters is 999)
_BATCH = 500


@lru_cache(maxsize=16)
def _seqs_where(count: int) -> str:
    """The WHERE of a batch of `count` operations of one change (most batches are 1 or 500)."""
    return f"apply_id = ? AND change_id = ? AND seq IN ({', '.join('?' * count)})"


def _refuse_any(tx: Connection, apply_id: str, change_id: str, seqs: list[int], old: str,
                new: str, lease_token: str | None) -> NoReturn:
    """Explain the first operation of `seqs` the batch did not move (it rolls back whole)."""
    rows = dict(tx.execute(
        "SELECT seq, state FROM setright_operations WHERE apply_id = ? AND change_id = ?",
        (apply_id, change_id)).fetchall())
    seq = next((s for s in seqs if rows.get(s) != new), seqs[0])
    _refuse(tx, table="setright_operations", where="apply_id = ? AND change_id = ? AND seq = ?",
            key=(apply_id, change_id, seq), expected=[old], lease_token=lease_token,
            apply_id=apply_id,
            describe=f"operation {seq} of change {change_id} in apply {apply_id}")
