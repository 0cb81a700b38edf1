"""Outcome of a redrive entry: reopen a failed apply for retry.

A redrive is accepted only when every condition holds — the apply is
`failed`, the latest on its target, failed at most `redrive.max_age` ago, no
other apply active, the target lock free (or owned, or `force`), at least one
failed task and none ROLLBACK_FAILED — and the fresh plan matches the
remaining work exactly. Anything else is refused with its reason and the
apply is left untouched.

The live target is checked too: its schema now is compared with the snapshot
recorded when the apply failed (`planner/drift.py`). What is new is shown;
what the failure-time schema had and the live one lost or altered refuses the
redrive unless the entry says `accept_drift: true`. The live schema's
fingerprint is part of the guard, so a schema change between `plan` and
`apply` makes the plan stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from setright.db import Connection
from setright.fingerprint import fingerprint
from setright.planner.context import RedriveContext
from setright.planner.entries import PlanEntry
from setright.planner.drift import SINCE, drift_since_failure
from setright.planner.explain import explain_mismatch
from setright.planner.model import Action, ActionKind, Guard, Outcome
from setright.runner.snapshots import LiveSnapshot
from setright.store.applies import (
    ApplyRow,
    TaskRow,
    active_apply,
    find_apply,
    latest_apply,
    tasks_of,
)
from setright.store.snapshots import schema_fingerprint
from setright.timeutil import iso_from_ms, ms_from_any

REMAINING_TASK_STATES = ("failed", "cancelled", "pending")


@dataclass(frozen=True)
class OperationCounts:
    """A task's operations as the guard and the remaining work need them (no statements)."""

    total: int = 0
    completed: int = 0
    first_open: int | None = None      # lowest seq not completed
    last_open: int | None = None       # highest seq not completed

    @property
    def open(self) -> int:
        return self.total - self.completed


def _operation_counts(conn: Connection, apply_id: str) -> dict[str, OperationCounts]:
    """Per change of the apply, in one aggregate query."""
    return {change_id: OperationCounts(total, int(completed), first, last)
            for change_id, total, completed, first, last in conn.execute(
                "SELECT change_id, count(*),"
                " sum(CASE WHEN state = 'completed' THEN 1 ELSE 0 END),"
                " min(CASE WHEN state = 'completed' THEN NULL ELSE seq END),"
                " max(CASE WHEN state = 'completed' THEN NULL ELSE seq END)"
                " FROM setright_operations WHERE apply_id = ? GROUP BY change_id", (apply_id,))}


def redrive_guard(conn: Connection, apply: ApplyRow, ctx: RedriveContext
                  ) -> tuple[dict[str, Any], dict[int, OperationCounts], dict[int, TaskRow]]:
    """Guard data, and the operation counts and task rows by position.

    Per task the guard holds what moves when anything about it moves: position,
    change, checksum (which covers every operation's hash), state, completed
    operations and its latest event. Statements are never read here: only a
    task whose checksum differs from its change file reads them, to explain.
    """
    counts = _operation_counts(conn, apply.id)
    events = dict(conn.execute("SELECT change_id, max(id) FROM setright_events"
                               " WHERE apply_id = ? GROUP BY change_id", (apply.id,)).fetchall())
    tasks, counts_by_position, rows = [], {}, {}
    for task in tasks_of(conn, apply.id):
        ops = counts.get(task.change_id, OperationCounts())
        counts_by_position[task.position] = ops
        rows[task.position] = task
        tasks.append({"position": task.position, "change_id": task.change_id,
                      "state": task.state, "checksum": task.checksum,
                      "completed_operations": ops.completed,
                      "last_event": events.get(task.change_id)})
    latest = latest_apply(conn, apply.target)
    holder = conn.execute("SELECT lock_id, owner, expires_at FROM setright_locks WHERE name = ?",
                          (f"target:{apply.target}",)).fetchone()
    live_holder = None
    if holder and holder[0] in ctx.own_lock_ids:
        live_holder = ctx.holders_before.get(apply.target)
    elif holder and holder[2] > iso_from_ms(ctx.now_ms):
        live_holder = holder[1]
    # The apply's latest event id moves on every transition, whatever the clocks say.
    last_event = conn.execute("SELECT max(id) FROM setright_events WHERE apply_id = ?",
                              (apply.id,)).fetchone()[0]
    data: dict[str, Any] = {
        "apply": {"id": apply.id, "target": apply.target, "state": apply.state,
                  "attempt": apply.attempt, "max_attempts": apply.max_attempts,
                  "completed_at": apply.completed_at, "updated_at": apply.updated_at,
                  "last_event": last_event},
        "tasks": tasks,
        "target_latest_apply": latest.id if latest else None,
        "lock_holder": live_holder,
    }
    if ctx.live_schema is not None:
        data["live_schema"] = live_schema_guard(ctx.live_schema(apply.target))
    return data, counts_by_position, rows


def live_schema_guard(live: LiveSnapshot) -> str:
    """The guard's one field for the live target: its schema's fingerprint, or why it
    could not be read (so reaching it again also moves the guard)."""
    if live.schema is None:
        return f"unreachable: {live.error}"
    return schema_fingerprint(live.schema)


def _redriven_since_failure(conn: Connection, apply_id: str) -> bool:
    """A redrive event (failed → failed_retryable) newer than the apply's last failure."""
    redrive = conn.execute(
        "SELECT max(id) FROM setright_events WHERE apply_id = ? AND kind = 'apply'"
        " AND old_state = 'failed' AND new_state = 'failed_retryable'", (apply_id,)).fetchone()[0]
    failure = conn.execute(
        "SELECT max(id) FROM setright_events WHERE apply_id = ? AND kind = 'apply'"
        " AND new_state = 'failed'", (apply_id,)).fetchone()[0]
    return redrive is not None and redrive > (failure or 0)


def evaluate_redrive(conn: Connection, entry: PlanEntry, ctx: RedriveContext) -> Action:
    apply = find_apply(conn, entry.subject)

    def action(outcome: Outcome, messages: list[str], guard: Guard, **extra: Any) -> Action:
        return Action(address=entry.address, kind=ActionKind.REDRIVE, outcome=outcome,
                      file=entry.file, entry_key=entry.key,
                      before=apply.state if apply else None,
                      after="failed_retryable" if outcome == Outcome.CHANGE else (
                          apply.state if apply else None),
                      guard=guard, entry=entry.as_entry_dict(),
                      target=apply.target if apply else None, messages=messages, **extra)

    if apply is None:
        return action(Outcome.CONFLICT, [f"apply {entry.subject!r} is not in the audit store"],
                      Guard(fingerprint(None), {}))
    data, counts_by_position, task_rows = redrive_guard(conn, apply, ctx)
    guard = Guard(fingerprint(data), data)
    if apply.state in ("failed_retryable", "running", "completed") and \
            _redriven_since_failure(conn, apply.id):
        return action(Outcome.SATISFIED, [f"apply {apply.id} was redriven already; it is "
                                          f"{apply.state}"], guard)
    refusals = _refusals(conn, apply, data, entry, ctx)
    remaining = [t for t in data["tasks"] if t["state"] in REMAINING_TASK_STATES]
    work = [_remaining_work(t, counts_by_position[t["position"]]) for t in remaining]
    completed = [{"position": t["position"], "change_id": t["change_id"]}
                 for t in data["tasks"] if t["state"] == "completed"]
    fresh = ctx.fresh_plan(apply.target)
    fresh_summary = {"fingerprint": fresh.fingerprint(), **fresh.canonical()}
    mismatch = explain_mismatch(conn, apply, [task_rows[t["position"]] for t in remaining],
                                fresh, ctx.changes)
    if mismatch:
        refusals.append("the fresh plan does not match the remaining work (drift):")
        refusals += [f"  {line}" for line in mismatch]
    drift, drift_refusals, warnings = _schema_drift(conn, apply, entry, ctx)
    refusals += drift_refusals
    extra = {"fresh_plan": fresh_summary, "remaining_work": work, "completed_work": completed,
             "drift": drift, "warnings": warnings}
    if refusals:
        return action(Outcome.CONFLICT, refusals, guard, **extra)
    verdict = (f"fresh plan matches the remaining work: {len(work)} task(s), "
               f"{sum(w['operations_to_run'] for w in work)} operation(s) to run")
    messages = [verdict]
    if entry.accept_drift and any(SINCE in line for line in drift):
        messages.append("accept_drift: true: redriving although the target's schema lost or "
                        "altered what it had when the apply failed")
    return action(Outcome.CHANGE, messages, guard, **extra)


def _schema_drift(conn: Connection, apply: ApplyRow, entry: PlanEntry, ctx: RedriveContext
                  ) -> tuple[list[str], list[str], list[str]]:
    """(drift lines to show, refusals, warnings) from the live target and the failure time."""
    if ctx.live_schema is None:
        return [], [], []
    report = drift_since_failure(conn, apply.id, apply.target, ctx.live_schema(apply.target))
    if report.drift is None:   # unreachable: a conflict; no snapshot: a warning
        return ([], [report.problem], []) if report.unreachable else ([], [], [report.problem])
    drift = report.drift
    if not drift.lost or entry.accept_drift:
        return drift.lines, [], []
    return drift.lines, [
        f"the schema of {apply.target} lost or altered what it had when the apply failed "
        "(set accept_drift: true to redrive anyway):",
        *(f"  {line}" for line in drift.lost)], []


def _refusals(conn: Connection, apply: ApplyRow, data: dict[str, Any],
              entry: PlanEntry, ctx: RedriveContext) -> list[str]:
    """Every redrive condition that fails, each as one line."""
    out = []
    if apply.state != "failed":
        out.append(f"apply {apply.id} is {apply.state}; only a failed apply can be redriven")
    if data["target_latest_apply"] != apply.id:
        out.append(f"apply {apply.id} is not the latest on {apply.target}: "
                   f"{data['target_latest_apply']} is newer")
    active = active_apply(conn, apply.target)
    if active and active.id != apply.id:
        out.append(f"apply {active.id} is {active.state} on {apply.target}")
    failed_ms = ms_from_any(apply.completed_at)
    if apply.state == "failed" and failed_ms is None:
        # Never read as "just failed": an apply whose failure time is unknown may be of any age.
        out.append(f"apply {apply.id} has no failure time (completed_at is empty), so its age "
                   "cannot be checked against redrive.max_age")
    if apply.state == "failed" and failed_ms is not None:
        deadline = failed_ms + int(ctx.max_age * 1000)
        if deadline < ctx.now_ms:
            out.append(f"apply {apply.id} failed at {apply.completed_at}, more than "
                       f"redrive.max_age ago (redrivable until {iso_from_ms(deadline)})")
    holder = data["lock_holder"]
    if holder and not entry.force and holder.rsplit(":", 1)[0] != ctx.owner.rsplit(":", 1)[0]:
        out.append(f"target:{apply.target} is locked by {holder} (set force: true to take "
                   "the lock over)")
    failed = [t for t in data["tasks"] if t["state"] == "failed"]
    if apply.state == "failed" and not failed:
        out.append(f"apply {apply.id} has no failed task")
    if failed:
        ids = [t["change_id"] for t in failed]
        marks = ", ".join("?" for _ in ids)
        for change_id, in conn.execute(
                f"SELECT change_id FROM setright_change_state WHERE change_id IN ({marks})"
                " AND state = 'ROLLBACK_FAILED'", ids):
            out.append(f"change {change_id!r} is ROLLBACK_FAILED: its rollback's partial state "
                       "needs a human (mark it instead)")
    return out


def _remaining_work(task: dict[str, Any], ops: OperationCounts) -> dict[str, Any]:
    """Resume at the first operation not completed (safe: the checksum covers every operation)."""
    return {"position": task["position"], "change_id": task["change_id"],
            "task_state": task["state"], "operations_total": ops.total,
            "from_seq": ops.first_open, "to_seq": ops.last_open, "operations_to_run": ops.open}
