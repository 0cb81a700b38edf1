"""The writes an applied action makes, inside the caller's one write transaction.

Every write is a guarded transition or an append; any refusal raises and the
caller's transaction rolls everything back. Shared by `apply`, `audit fix`
and `redrive`, so a plan and an imperative command write exactly alike.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import replace

from setright.db import Connection
from setright.errors import SetrightError
from setright.planner.model import Action, ActionKind, Outcome
from setright.store.applies import find_apply, operations_of, tasks_of
from setright.store.audit import current_state, mark_change
from setright.store.states import ApplyState, OperationState, TaskState
from setright.store.transitions import Provenance, move_apply, move_operation, move_task, record_event
from setright.timeutil import iso_from_ms

#: Test hook (documented): seconds to sleep after each write inside the apply
#: transaction, so a test can kill the process between writes.
PAUSE_ENV = "SETRIGHT_APPLY_PAUSE"


def pause_for_tests() -> None:
    seconds = float(os.environ.get(PAUSE_ENV) or 0)
    if seconds > 0:
        time.sleep(seconds)


def write_mark(tx: Connection, audit_table: str, action: Action, prov: Provenance, *,
               now_ms: int) -> str:
    """A manual mark; reaps the change's apply first if it is still `running` with a dead lease."""
    current = current_state(tx, action.subject)
    at = iso_from_ms(now_ms)
    if current is not None and current.state == "STARTED" and current.execution_id:
        _reap_for_mark(tx, current.execution_id, prov, at=at)
    resolution = "APPLIED" if action.after == "MANUAL_MARKED_AS_APPLIED" else "ROLLED_BACK"
    # A fresh UUID, as Flamingock's `audit fix` writes; provenance is in the metadata.
    old, audit_id = mark_change(tx, audit_table, action.subject, resolution, prov,
                                now_ms=now_ms, execution_id=str(uuid.uuid4()))
    record_event(tx, at=at, kind="mark", prov=prov, change_id=action.subject, old_state=old,
                 new_state=action.after, extra={"audit_id": audit_id})
    pause_for_tests()
    return f"{action.address}: {old} → {action.after}"


def _reap_for_mark(tx: Connection, apply_id: str, prov: Provenance, *, at: str) -> None:
    apply = find_apply(tx, apply_id)
    if apply is None or apply.state not in (ApplyState.PENDING, ApplyState.RUNNING):
        return
    if apply.lease_expires_at and apply.lease_expires_at > at:
        return  # a live runner: the plan would have been a conflict
    error = f"runner lost: lease expired at {apply.lease_expires_at}; reaped by a manual mark"
    for task in tasks_of(tx, apply_id):
        if task.state == TaskState.RUNNING:
            move_task(tx, apply_id, task.position, [TaskState.RUNNING], TaskState.FAILED, prov,
                      at=at, fields={"error": error, "completed_at": at})
    move_apply(tx, apply_id, [apply.state], ApplyState.FAILED, prov, at=at,
               fields={"error": error, "completed_at": at})


def write_redrive(tx: Connection, action: Action, prov: Provenance, *, now_ms: int,
                  took_lock_from: str | None = None) -> str:
    """failed → failed_retryable (attempt 0; error, failure time and the lost runner's lease
    cleared); failed and cancelled tasks and failed operations → failed_retryable, their
    completion times cleared; completed work untouched."""
    at = iso_from_ms(now_ms)
    if took_lock_from:
        prov = replace(prov, metadata={**prov.metadata, "took_lock_from": took_lock_from})
    apply_id = action.subject
    move_apply(tx, apply_id, [ApplyState.FAILED], ApplyState.FAILED_RETRYABLE, prov, at=at,
               fields={"attempt": 0, "error": None, "completed_at": None, "lease_owner": None,
                       "lease_token": None, "lease_expires_at": None})
    pause_for_tests()
    for task in tasks_of(tx, apply_id):
        if task.state in (TaskState.FAILED, TaskState.CANCELLED):
            move_task(tx, apply_id, task.position, [task.state], TaskState.FAILED_RETRYABLE,
                      prov, at=at, fields={"error": None, "completed_at": None})
            pause_for_tests()
    for op in operations_of(tx, apply_id):
        if op.state == OperationState.FAILED:
            move_operation(tx, apply_id, op.change_id, op.seq, [OperationState.FAILED],
                           OperationState.FAILED_RETRYABLE, prov, at=at,
                           fields={"error": None, "completed_at": None})
    reopened = sum(1 for w in action.remaining_work or [] if w["operations_to_run"])
    return f"{action.address}: failed → failed_retryable ({reopened} task(s) to run)"


def describe(action: Action) -> str:
    if action.kind == ActionKind.REDRIVE:
        return f"{action.address}: already redriven (recorded)"
    return f"{action.address}: already {action.before} (recorded)"


def moved_refusal(now: Action) -> SetrightError | None:
    """Why a one-entry command (`audit fix`, `redrive`) did not write, from the facts its
    write transaction read (`now`, re-evaluated there), never from its earlier preview.

    None when the entry turned out satisfied: the caller reports "Nothing to do", as
    the planner does for a satisfied entry.
    """
    if now.outcome == Outcome.SATISFIED:
        return None
    if now.outcome == Outcome.CONFLICT:
        return SetrightError(now.messages[0] if now.messages else f"{now.address}: conflict",
                             [*now.messages[1:], "nothing was written"])
    subject = (f"change {now.subject!r}" if now.kind == ActionKind.RESOLVE
               else f"apply {now.subject}")
    where = f"it is now {now.before}" if now.before else "what it read changed"
    return SetrightError(f"{subject} moved while this command ran: {where}"
                         + (f" ({now.messages[0]})" if now.messages else ""),
                         ["nothing was written; run the command again to act on it as it is now"])
