"""The store writes of a runner: one `store.write()` transaction each, fenced by the lease.

Every method opens one transaction, checks the lease (`Lease.fence`), moves
rows with guarded transitions carrying the lease token, and appends audit rows
the Flamingock way. If the lease is gone, or a row moved under us, the
transaction rolls back and nothing is written.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from setright.db import Connection
from setright.jsontext import sorted_json
from setright.runner.fresh_plan import shown_path
from setright.runner.lease import Lease
from setright.runner.model import Change
from setright.store.applies import ApplyRow, TaskRow, get_apply
from setright.store.audit import (
    OwnAuditRows,
    current_state,
    provenance_metadata,
    setright_metadata,
)
from setright.store.connection import Store
from setright.store.states import (
    ApplyState,
    ChangeState,
    OperationState,
    Recovery,
    TaskState,
    TxStrategy,
)
from setright.store.transitions import (
    EventBatch,
    Provenance,
    move_apply,
    move_operation,
    move_operations,
    move_task,
)
from setright.timeutil import iso_from_ms, ms_from_any

#: an audit row and its provenance, as `append_audit_rows` takes them (the recorder's rows
#: carry it in `metadata` already, provenance None)
_AuditEntry = tuple[dict[str, Any], dict[str, Any] | None]

#: what an operation may complete from
_COMPLETABLE = [OperationState.PENDING, OperationState.FAILED_RETRYABLE]
#: a state as stored → its member, for the states a task or an operation starts from (a
#: lookup per change, where `TaskState(text)` runs the enum's Python machinery)
_COMPLETABLE_BY_TEXT = {str(state): state for state in _COMPLETABLE}
_STARTABLE = [TaskState.PENDING, TaskState.FAILED_RETRYABLE]
_STARTABLE_BY_TEXT = {str(state): state for state in _STARTABLE}

#: Flamingock's ChangeType for changes defined by a template (our YAML change files).
AUDIT_TYPE = "STANDARD_TEMPLATE"


def tx_strategy_for(transactional: bool) -> TxStrategy:
    """Our targets are never the audit store, and each transaction writes a marker:
    Flamingock calls exactly that TX_SEPARATE_WITH_MARKER."""
    return TxStrategy.TX_SEPARATE_WITH_MARKER if transactional else TxStrategy.NON_TX


@dataclass(frozen=True)
class Outcome:
    """How a failed task leaves its apply (retried or stopped)."""

    task: TaskState
    apply: ApplyState
    retryable: bool


@dataclass(frozen=True)
class Begun:
    """A task's start: `cancelled` holds the reason when it was cancelled instead."""

    position: int
    cancelled: str | None


def failure_outcome(*, retryable: bool, attempt: int, max_attempts: int) -> Outcome:
    if retryable and attempt < max_attempts:
        return Outcome(TaskState.FAILED_RETRYABLE, ApplyState.FAILED_RETRYABLE, True)
    return Outcome(TaskState.FAILED, ApplyState.FAILED, retryable)


def plan_summary(target: str, fingerprint: str, audit_high_water: int, tasks: int,
                 operations: int) -> str:
    """`plan_json` of a new apply: a small header, because the tasks and operations rows
    already hold the plan itself (ids, checksums, statements, hashes).

    It must stay small: every lease-fenced update reads the apply row, and a
    large text column before `lease_token` would make each read walk its
    overflow pages. `audit_high_water` is the audit log's highest id when the
    apply was planned: a later row for one of its changes, not written by the
    apply itself, means someone moved that change since.
    """
    return sorted_json({"format": 1, "target": target, "fingerprint": fingerprint,
                        "audit_high_water": audit_high_water, "tasks": tasks,
                        "operations": operations})


def audit_high_water(apply: ApplyRow) -> int | None:
    try:
        value = json.loads(apply.plan_json or "{}").get("audit_high_water")
    except (ValueError, TypeError, AttributeError):
        return None
    return value if isinstance(value, int) else None


class ApplyRecorder:
    """Writes one apply's progress; `attempt` and `max_attempts` follow the apply row."""

    def __init__(self, store: Store, lease: Lease, apply: ApplyRow, *, actor: str,
                 root: Path | None,
                 snapshot: Callable[[], dict[str, Any] | None] | None = None) -> None:
        self.store = store
        #: the target's schema now (None when unreadable), recorded when the apply fails
        self.snapshot = snapshot
        self.lease = lease
        self.apply = apply
        self.root = root
        self.hostname = socket.gethostname()
        self.prov = Provenance(actor=actor, source="runner")
        self._provenance = provenance_metadata(self.prov)  # the same for every audit row
        #: (change id, attempt, checksum) → its audit rows' common fields, for the last change:
        #: a change's two rows (STARTED, then its outcome) differ only in a few
        self._common: tuple[tuple[str, int, str] | None, dict[str, Any]] = (None, {})
        self.high_water = audit_high_water(apply)
        #: this apply's audit rows, folded into the change-state cache when an attempt ends
        self.own_rows = OwnAuditRows(store.audit_table)

    @property
    def apply_id(self) -> str:
        return self.apply.id

    # -- the apply ---------------------------------------------------------

    def start_apply(self) -> ApplyRow:
        """pending | failed_retryable → running; attempt + 1; the lease moves to this runner."""
        with self.store.write() as tx:
            self.lease.fence(tx)
            current = get_apply(tx, self.apply_id)
            at = self.store.now_iso()
            move_apply(tx, self.apply_id, [ApplyState.PENDING, ApplyState.FAILED_RETRYABLE],
                       ApplyState.RUNNING, self.prov, at=at, fields={
                           "attempt": current.attempt + 1,
                           "started_at": current.started_at or at,
                           "completed_at": None, "error": None,
                           "lease_owner": self.lease.lock.owner,
                           "lease_token": self.lease.token,
                           "lease_expires_at": self.lease.expires_at,
                       }, event={"attempt": current.attempt + 1})
            self.apply = get_apply(tx, self.apply_id)
        self.lease.bind(self.apply_id)
        return self.apply

    def finish_apply(self, state: ApplyState, error: str | None = None) -> None:
        with self.store.write() as tx:
            self.lease.fence(tx)
            self._finish_apply(tx, state, error)

    def _finish_apply(self, tx: Connection, state: ApplyState, error: str | None) -> None:
        at = self.store.now_iso()
        fields: dict[str, Any] = {"error": error, "completed_at": at}
        if state != ApplyState.FAILED_RETRYABLE:
            fields["lease_expires_at"] = at  # released: nothing is running any more
        move_apply(tx, self.apply_id, [ApplyState.RUNNING], state, self.prov, at=at,
                   lease_token=self.lease.token, fields=fields)
        self.own_rows.fold(tx)
        if state == ApplyState.FAILED and self.snapshot is not None:
            # What a redrive will compare the live target with: taken with the failure,
            # in its transaction, so a failed apply never lacks it for a race.
            schema = self.snapshot()
            if schema is not None:
                from setright.store.snapshots import record_snapshot  # only a failed apply's
                record_snapshot(tx, self.apply_id, schema, at=at)
        self.apply = get_apply(tx, self.apply_id)

    # -- tasks ---------------------------------------------------------------

    def begin_task(self, task: TaskRow, change: Change) -> Begun:
        """task → running with audit STARTED; or → cancelled if the change moved since planning."""
        with self.store.write() as tx:
            self._fence(tx)
            rows: list[_AuditEntry] = []
            begun = self._begin_task(tx, task, change, rows, self.store.now_iso())
            self._append(tx, rows)
            return begun

    def _begin_task(self, tx: Connection, task: TaskRow, change: Change,
                    rows: list[_AuditEntry], at: str, events: EventBatch | None = None
                    ) -> Begun:
        """In a transaction whose change-state cache was just caught up; the STARTED row
        goes to `rows`, which the caller appends (with its own rows, folded once), and the
        event to `events` when the caller batches them."""
        reason = self._moved_since_planned(tx, change.id)
        if reason is not None:
            move_task(tx, self.apply_id, task.position, [TaskState(task.state)],
                      TaskState.CANCELLED, self.prov, at=at, lease_token=self.lease.token,
                      fields={"completed_at": at, "error": reason}, event={"reason": reason},
                      change_id=task.change_id, events=events)
            return Begun(task.position, reason)
        # the state read when the attempt began (the lease keeps it), else the refusal says why
        known = _STARTABLE_BY_TEXT.get(task.state)
        expected = [known] if known is not None else _STARTABLE
        move_task(tx, self.apply_id, task.position, expected, TaskState.RUNNING,
                  self.prov, at=at, lease_token=self.lease.token,
                  fields={"attempt": task.attempt + 1, "started_at": at, "error": None,
                          "completed_at": None}, change_id=task.change_id, events=events)
        rows.append(self._audit_entry(change, ChangeState.STARTED))
        return Begun(task.position, None)

    def _moved_since_planned(self, tx: Connection, change_id: str) -> str | None:
        current = current_state(tx, change_id)
        self.own_rows.seen(change_id, current)  # its STARTED row is timed from this read
        if current is None or current.execution_id == self.apply_id:
            return None
        if self.high_water is not None:
            if current.audit_id <= self.high_water:
                return None
        elif current.created_ms < _ms(self.apply.created_at):
            return None  # an apply without a recorded plan: judge by time
        if current.state.startswith("MANUAL_MARKED"):
            return f"resolved by hand: {current.state} at {current.created_at}"
        return (f"changed since the apply was planned: {current.state} by execution "
                f"{current.execution_id} at {current.created_at}")

    def operations_completed(self, change_id: str, seqs: Mapping[int, str | None]) -> None:
        with self.store.write() as tx:
            self.lease.fence(tx)
            self._complete_operations(tx, change_id, seqs, self.store.now_iso())

    def _complete_operations(self, tx: Connection, change_id: str,
                             seqs: Mapping[int, str | None], at: str,
                             events: EventBatch | None = None) -> None:
        """`seqs`: seq → its state when the attempt began (the lease kept it so); a state
        that could not be completed is left to the guard, which refuses it and says why."""
        fields = {"completed_at": at, "error": None}
        known = {seq: _COMPLETABLE_BY_TEXT[state] for seq, state in seqs.items()
                 if state in _COMPLETABLE_BY_TEXT}
        if known:
            move_operations(tx, self.apply_id, change_id, known, OperationState.COMPLETED,
                            self.prov, at=at, lease_token=self.lease.token, fields=fields,
                            events=events)
        for seq in sorted(seqs.keys() - known.keys()):
            move_operation(tx, self.apply_id, change_id, seq, _COMPLETABLE,
                           OperationState.COMPLETED, self.prov, at=at,
                           lease_token=self.lease.token, fields=fields, events=events)

    def task_completed(self, task: TaskRow, change: Change, seqs: Mapping[int, str | None],
                       millis: int, next_task: tuple[TaskRow, Change] | None = None
                       ) -> Begun | None:
        """The last operations, the task and audit APPLIED in one transaction.

        With `next_task`, the same transaction also begins the next task (its
        STARTED row, or its cancellation): one store commit per change instead
        of two, and never a state in between that a crash could expose.
        """
        with self.store.write() as tx:
            now = self._fence(tx)  # one moment for the transaction's rows
            at = iso_from_ms(now)
            events = EventBatch()      # its three events in one statement
            self._complete_operations(tx, change.id, seqs, at, events)
            move_task(tx, self.apply_id, task.position, [TaskState.RUNNING], TaskState.COMPLETED,
                      self.prov, at=at, lease_token=self.lease.token, fields={"completed_at": at},
                      change_id=task.change_id, events=events)
            rows = [self._audit_entry(change, ChangeState.APPLIED, millis=millis)]
            begun = None
            if next_task is not None:
                begun = self._begin_task(tx, *next_task, rows, at, events)
            events.flush(tx)
            self._append(tx, rows, now)  # APPLIED, then the next change's STARTED
            return begun

    def operation_failed(self, task: TaskRow, change: Change, seq: int, error: str,
                         trace: str, millis: int, outcome: Outcome | None) -> None:
        """Operation `seq` failed: it and audit FAILED; with `outcome`, the task and apply too.

        Without `outcome` (a rollback script follows) the task stays running
        until `rollback_finished` records how the rollback went.
        """
        with self.store.write() as tx:
            self._fence(tx)
            at = self.store.now_iso()
            move_operation(tx, self.apply_id, change.id, seq,
                           [OperationState.PENDING, OperationState.FAILED_RETRYABLE],
                           OperationState.FAILED, self.prov, at=at,
                           lease_token=self.lease.token, fields={"error": error})
            if outcome is not None and outcome.apply == ApplyState.FAILED_RETRYABLE:
                move_operation(tx, self.apply_id, change.id, seq, [OperationState.FAILED],
                               OperationState.FAILED_RETRYABLE, self.prov, at=at,
                               lease_token=self.lease.token)
            self._audit(tx, change, ChangeState.FAILED, millis=millis, error_trace=trace)
            if outcome is not None:
                self._fail_task(tx, task, outcome, f"operation {seq} failed: {error}")

    def rollback_finished(self, task: TaskRow, change: Change, *, failed_seq: int,
                          failure: str, error: str | None, outcome: Outcome,
                          millis: int) -> None:
        """ROLLED_BACK (operations back to pending) or ROLLBACK_FAILED, then task and apply."""
        with self.store.write() as tx:
            self._fence(tx)
            at = self.store.now_iso()
            if error is None:
                for op in tx.execute(
                        "SELECT seq, state FROM setright_operations WHERE apply_id = ?"
                        " AND change_id = ? AND state IN ('completed', 'failed') ORDER BY seq",
                        (self.apply_id, change.id)).fetchall():
                    move_operation(tx, self.apply_id, change.id, op[0], [OperationState(op[1])],
                                   OperationState.PENDING, self.prov, at=at,
                                   lease_token=self.lease.token,
                                   fields={"completed_at": None},
                                   event={"reason": "rolled back"})
                self._audit(tx, change, ChangeState.ROLLED_BACK, millis=millis, method="rollback")
                task_error = f"operation {failed_seq} failed: {failure}; rolled back"
            else:
                if outcome.apply == ApplyState.FAILED_RETRYABLE:
                    move_operation(tx, self.apply_id, change.id, failed_seq,
                                   [OperationState.FAILED], OperationState.FAILED_RETRYABLE,
                                   self.prov, at=at, lease_token=self.lease.token)
                self._audit(tx, change, ChangeState.ROLLBACK_FAILED, millis=millis,
                            error_trace=f"rollback failed: {error}", method="rollback")
                task_error = f"operation {failed_seq} failed: {failure}; rollback failed: {error}"
            self._fail_task(tx, task, outcome, task_error)

    def _fail_task(self, tx: Connection, task: TaskRow, outcome: Outcome,
                   error: str) -> None:
        at = self.store.now_iso()
        move_task(tx, self.apply_id, task.position, [TaskState.RUNNING], outcome.task, self.prov,
                  at=at, lease_token=self.lease.token, fields={"error": error, "completed_at": at},
                  change_id=task.change_id)
        self._finish_apply(tx, outcome.apply, f"change {task.change_id}: {error}")

    # -- the audit log --------------------------------------------------------

    def _fence(self, tx: Connection) -> int:
        """The lease's fence and the audit log's catch-up, from one read of the lock row and
        the log's highest id; returns the fence's moment."""
        now, top = self.lease.fence_reading(tx, self.own_rows.top_sql(tx))
        self.own_rows.catch_up(tx, top)
        return now

    def _audit(self, tx: Connection, change: Change, state: ChangeState, *,
               millis: int | None = None, error_trace: str | None = None,
               method: str = "apply") -> int:
        return self._append(tx, [self._audit_entry(change, state, millis=millis,
                                                   error_trace=error_trace, method=method)])[0]

    def _append(self, tx: Connection, rows: list[_AuditEntry],
                now_ms: int | None = None) -> list[int]:
        """In a transaction that began with `_fence` (its catch-up); `now_ms`: the
        transaction's moment, when the caller has it."""
        return self.own_rows.append(tx, rows,
                                    now_ms=self.store.now_ms() if now_ms is None else now_ms)

    def _audit_entry(self, change: Change, state: ChangeState, *, millis: int | None = None,
                     error_trace: str | None = None, method: str = "apply") -> _AuditEntry:
        """An audit row of this apply and its provenance, ready for `append_audit_rows`."""
        key = (change.id, self.apply.attempt, change.checksum)
        if self._common[0] != key:
            row = audit_fields(change, apply_id=self.apply_id, state=state,
                               source_file=shown_path(change.source_file, self.root),
                               hostname=self.hostname)
            # the metadata text `append_audit_rows` would write for this provenance
            provenance = {**self._provenance, "attempt": key[1], "checksum": key[2]}
            row["metadata"] = setright_metadata(None, provenance)
            self._common = (key, row)
        return {**self._common[1], "state": str(state), "execution_millis": millis,
                "error_trace": error_trace, "invoked_method": method}, None


def audit_fields(change: Change, *, apply_id: str, state: ChangeState, source_file: str,
                 hostname: str, millis: int | None = None, error_trace: str | None = None,
                 method: str = "apply") -> dict[str, Any]:
    """An audit row in Flamingock's layout; `created_at` is chosen by `append_audit_row`.
    `source_file` as `shown_path` names the change's file."""
    return {
        "execution_id": apply_id, "stage_id": None, "change_id": change.id,
        "author": change.author, "state": str(state), "invoked_class": None,
        "invoked_method": method, "source_file": source_file,
        "metadata": None, "execution_millis": millis, "execution_hostname": hostname,
        "error_trace": error_trace, "type": AUDIT_TYPE,
        "tx_strategy": str(tx_strategy_for(change.transactional)),
        "target_system_id": change.target, "change_order": change.order,
        "recovery_strategy": change.recovery, "transaction_flag": int(change.transactional),
        "system_change": 0,
    }


def is_retryable(change: Change, *, rolled_back: bool) -> bool:
    """Transactional (the database undid it), rolled back by its script, or ALWAYS_RETRY."""
    return change.transactional or rolled_back or change.recovery == Recovery.ALWAYS_RETRY


def _ms(iso: str) -> int:
    return ms_from_any(iso) or 0
