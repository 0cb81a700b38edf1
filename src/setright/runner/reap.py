"""Reaping lost applies and settling their in-flight task from the target markers (a
run's first step).

A runner that dies between a target COMMIT and the store write recording it
leaves the store behind the target. The markers, written in the same target
transaction as each operation, say exactly what committed:

* an operation whose marker exists is `completed`;
* a task whose every operation has a marker committed in full: it is
  recovered as APPLIED, with metadata saying so (for a transactional change
  that is "its COMMIT landed"; a non-transactional change whose last
  statement committed is just as exactly applied);
* a task whose audit state is FAILED and whose completed operations lost
  their markers was rolled back by its rollback script (the script removes
  the markers in its own transaction): recorded ROLLED_BACK;
* otherwise the task is `failed` and the audit log keeps STARTED (or FAILED):
  an issue, now with exact knowledge of how many operations committed.

Where a statement commits on its own (outside a transaction on PostgreSQL,
any DDL on MySQL) the first operation without a marker may still have taken
effect: the target's catalog settles it (`settle_unmarked`) — committed,
not committed, left behind (an invalid index), or unknown, which is recorded
on the operation as such and never guessed.

The reaper must hold the target lock and have claimed the target fence
first, so the lost runner can no longer commit while the markers are read.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Mapping

from setright.config import TargetConfig

from setright.db import Connection
from setright.runner.lease import Lease
from setright.runner.report import ReapReport
from setright.db.settled import ATOMIC, Settled
from setright.runner.targets import Target, TargetError, read_markers
from setright.store.applies import ApplyRow, TaskRow, find_apply, operations_of, tasks_of
from setright.store.audit import append_audit_row, audit_row, current_state, refresh_change_state
from setright.store.connection import Store
from setright.store.issue_fields import LEFT_BEHIND, UNSETTLED, MarkerReader
from setright.store.schema import quote
from setright.store.states import ApplyState, ChangeState, OperationState, TaskState
from setright.store.transitions import Provenance, move_apply, move_operation, move_task


def target_marker_reader(targets: Mapping[str, TargetConfig]) -> MarkerReader:
    """What `issue get/list` settle an unreaped in-flight task with: its target's markers,
    read-only (never opening a target for writing, never creating one); None when
    the target is not configured or cannot be read, so the store rows are shown."""

    def read(target: str, apply_id: str, change_id: str) -> list[int] | None:
        config = targets.get(target)
        if config is None:
            return None
        try:
            return read_markers(config, apply_id, change_id)
        except TargetError:
            return None

    return read


def lost_applies(store: Store, target: str, lease: Lease) -> list[ApplyRow]:
    """pending/running applies of `target` that are not ours: we hold the lock, so their lease is gone."""
    rows = store.conn.execute(
        "SELECT id FROM setright_applies WHERE target = ? AND state IN ('pending', 'running')"
        " AND coalesce(lease_token, '') != ?", (target, lease.token)).fetchall()
    return [a for (apply_id,) in rows if (a := find_apply(store.conn, apply_id)) is not None]


def reap_lost_applies(store: Store, target: Target, lease: Lease, *, actor: str,
                      on_reaped: Callable[[ReapReport], None] | None = None) -> list[ReapReport]:
    reports = []
    for apply in lost_applies(store, target.name, lease):
        report = settle_apply(store, target, lease, apply, actor=actor,
                              reason=lost_reason(apply.lease_expires_at, store.now_iso()))
        reports.append(report)
        if on_reaped is not None:
            on_reaped(report)
    return reports


def lost_reason(lease_expires_at: str | None, now: str) -> str:
    """Why an apply is taken from its runner: a lease that ran out, or (before its expiry:
    someone ran `lock release`) a lock taken from it, never a lease expiry yet to come."""
    if lease_expires_at is None:
        return "runner lost: lease expired at an unknown time"
    if lease_expires_at > now:
        return (f"runner lost: its target lock was released before its lease expired "
                f"(at {lease_expires_at})")
    return f"runner lost: lease expired at {lease_expires_at}"


def settle_apply(store: Store, target: Target, lease: Lease, apply: ApplyRow, *, actor: str,
                 reason: str) -> ReapReport:
    """Move `apply` to failed and settle its running task from the markers; one transaction."""
    # the snapshot code loads only for a lost apply: most runs reap none
    from setright.runner.snapshots import failure_time_snapshot
    from setright.store.snapshots import record_snapshot

    inflight = [t for t in tasks_of(store.conn, apply.id) if t.state == TaskState.RUNNING]
    markers = {t.change_id: target.markers(apply.id, t.change_id) for t in inflight}
    catalog = {t.change_id: _settle_unmarked(store, target, apply, t, markers[t.change_id])
               for t in inflight}
    schema = failure_time_snapshot(target)   # the lost runner can no longer commit: final
    prov = Provenance(actor=actor, source="runner", reason=reason)
    settled: str | None = None
    audit_state: str | None = None
    change_id: str | None = None
    with store.write() as tx:
        lease.fence(tx)
        refresh_change_state(tx, store.audit_table)
        at = store.now_iso()
        for task in inflight:
            change_id = task.change_id
            settled, audit_state = _settle_task(store, tx, apply, task, markers[task.change_id],
                                                catalog[task.change_id], prov, reason, at)
        fields = {"error": reason, "completed_at": at}
        if not apply.lease_expires_at or apply.lease_expires_at > at:
            fields["lease_expires_at"] = at  # the lease ends with the apply, even our own
        move_apply(tx, apply.id, [ApplyState(apply.state)], ApplyState.FAILED, prov, at=at,
                   lease_token=apply.lease_token, fields=fields, event={"reason": reason})
        if schema is not None:
            record_snapshot(tx, apply.id, schema, at=at)
    return ReapReport(apply.id, reason, change_id, settled, audit_state)


def _settle_unmarked(store: Store, target: Target, apply: ApplyRow, task: TaskRow,
                     marks: set[int]) -> tuple[int, Settled] | None:
    """The first operation after the markers, as the target's catalog settles it — where a
    statement commits on its own (outside a transaction, or DDL on MySQL) its marker can
    be missing although it took effect. None when every operation has its marker."""
    pending = [op for op in operations_of(store.conn, apply.id, task.change_id)
               if op.seq not in marks and op.state != OperationState.COMPLETED]
    if not pending:
        return None
    op = min(pending, key=lambda o: o.seq)
    return op.seq, target.settle_unmarked(op.statement)


def _settle_task(store: Store, tx: Connection, apply: ApplyRow, task: TaskRow,
                 marks: set[int], unmarked: tuple[int, Settled] | None, prov: Provenance,
                 reason: str, at: str) -> tuple[str, str | None]:
    operations = operations_of(tx, apply.id, task.change_id)
    total = len(operations)
    current = current_state(tx, task.change_id)
    ours = current is not None and current.execution_id == apply.id
    recorded_done = {op.seq for op in operations if op.state == OperationState.COMPLETED}

    if ours and current.state == ChangeState.FAILED and recorded_done and not recorded_done & marks:
        # The rollback script committed (it deletes the markers) before the store heard of it.
        for op in operations:
            if op.state in (OperationState.COMPLETED, OperationState.FAILED):
                move_operation(tx, apply.id, task.change_id, op.seq, [OperationState(op.state)],
                               OperationState.PENDING, prov, at=at, fields={"completed_at": None})
        _copy_audit(store, tx, current.audit_id, ChangeState.ROLLED_BACK, prov, reason,
                    "the rollback committed: its markers are gone from the target")
        _fail(tx, apply, task, prov, at, f"{reason}; rollback had committed")
        return "rollback had committed: recorded ROLLED_BACK", ChangeState.ROLLED_BACK.value

    by_catalog: Settled | None = None
    if unmarked is not None and unmarked[1] is not ATOMIC:
        by_catalog = unmarked[1]
        if by_catalog.committed:
            marks = {*marks, unmarked[0]}
    for op in operations:
        if op.seq in marks and op.state != OperationState.COMPLETED:
            how = ("marker found in the target" if by_catalog is None or op.seq != unmarked[0]
                   else f"no marker; from the catalog: {by_catalog.note}")
            move_operation(tx, apply.id, task.change_id, op.seq, [OperationState(op.state)],
                           OperationState.COMPLETED, prov, at=at,
                           fields={"completed_at": at, "error": None}, event={"settled": how})
    committed = sum(1 for op in operations if op.seq in marks)
    counted = f"{committed} of {total} operations committed"
    if by_catalog is not None and by_catalog.committed:
        assert unmarked is not None
        counted += f"; operation {unmarked[0]} settled from the catalog: {by_catalog.note}"
    if by_catalog is not None and not by_catalog.committed and (
            by_catalog.committed is None or by_catalog.leftover):
        assert unmarked is not None
        seq = unmarked[0]
        word = "unknown" if by_catalog.committed is None else "did not finish"
        note = f"operation {seq} {word}: {by_catalog.note}"
        error = (UNSETTLED if by_catalog.committed is None else LEFT_BEHIND) + by_catalog.note
        state = next(OperationState(op.state) for op in operations if op.seq == seq)
        if state != OperationState.FAILED:
            move_operation(tx, apply.id, task.change_id, seq, [state], OperationState.FAILED,
                           prov, at=at, fields={"error": error}, event={"settled": note})
        counted = f"{counted}; {note}"

    if total and committed == total and ours and current.state == ChangeState.STARTED:
        note = f"recovered from target markers: {counted}"
        _copy_audit(store, tx, current.audit_id, ChangeState.APPLIED, prov, reason, note)
        move_task(tx, apply.id, task.position, [TaskState.RUNNING], TaskState.COMPLETED, prov,
                  at=at, fields={"completed_at": at}, event={"settled": note})
        return f"recovered as APPLIED: {counted}", ChangeState.APPLIED.value
    _fail(tx, apply, task, prov, at, f"{reason}; {counted}")
    return f"task failed: {counted}", current.state if current else None


def _fail(tx: Connection, apply: ApplyRow, task: TaskRow, prov: Provenance, at: str,
          error: str) -> None:
    move_task(tx, apply.id, task.position, [TaskState.RUNNING], TaskState.FAILED, prov, at=at,
              fields={"error": error, "completed_at": at})


def _copy_audit(store: Store, tx: Connection, audit_id: int, state: ChangeState,
                prov: Provenance, reason: str, note: str) -> None:
    """A new audit row for the in-flight change, copying the row its runner wrote."""
    row = audit_row(tx, store.audit_table, audit_id)
    started_ms = _created_ms(tx, store, audit_id)
    row.update(state=state.value, error_trace=None, execution_hostname=socket.gethostname(),
               invoked_method="rollback" if state == ChangeState.ROLLED_BACK else "apply",
               execution_millis=max(0, store.now_ms() - started_ms) if started_ms else None)
    metadata = json.loads(row["metadata"]) if row.get("metadata") else {}
    previous = metadata.get("setright", {}) if isinstance(metadata, dict) else {}
    provenance = {**{k: v for k, v in previous.items() if k in ("attempt", "checksum")},
                  "actor": prov.actor, "source": prov.source, "reason": reason,
                  "recovered": note}
    append_audit_row(tx, store.audit_table, row, now_ms=store.now_ms(), provenance=provenance)


def _created_ms(tx: Connection, store: Store, audit_id: int) -> int | None:
    """The row's `created_at` as epoch ms, in the store dialect's own expression (a server
    store has no `setright_ms` function; its column may be a zone-less TIMESTAMP)."""
    ms = store.impl.audit_ms_sql(tx, store.audit_table, "created_at")
    row = tx.execute(f"SELECT {ms} FROM {quote(store.audit_table)}"
                     " WHERE id = ?", (audit_id,)).fetchone()
    return int(row[0]) if row and row[0] is not None else None
