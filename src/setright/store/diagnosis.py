"""Everything a human needs to decide an issue, read from the store.

`diagnose` turns a verdict of the issue table into a `Diagnosis`: the apply
that wrote the change's current row, how many of its operations committed (as
settled by the target markers), whether the target may hold partial state,
and whether the apply looks redrivable. It reads by primary key and index
only; the full redrive check (fresh plan, locks) is the planner's job.

A task still `running` in the store (its runner died, nobody reaped it yet)
is behind its target: the operations' rows say nothing committed while the
markers, written in the same target transaction as each operation, may say
otherwise. This module never opens a target (store/ knows nothing of them);
the caller passes a `MarkerReader`, and for an in-flight task the markers it
returns decide what committed, exactly as the reaper would settle it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from setright.db import Connection
from setright.db.impl import impl_of
from setright.store.audit import audit_row, current_state
from setright.store.issue_fields import (  # noqa: F401 - MarkerReader: importers' name here
    LEFT_BEHIND,
    UNSETTLED,
    MarkerReader,
    error_column,
    partial_state_possible,
    settled_by_markers,
)
from setright.store.issues import FLAMINGOCK_LOCK_TABLE, Verdict, find_issues, verdict_for
from setright.store.states import ChangeState, TaskState
from setright.timeutil import iso_from_ms, ms_from_any


STATUS_MEANING = {
    ChangeState.STARTED: "execution began but never completed",
    ChangeState.FAILED: "execution failed",
    ChangeState.ROLLBACK_FAILED: "execution failed, then its rollback failed",
    ChangeState.APPLIED: "applied",
    ChangeState.ROLLED_BACK: "rolled back",
    ChangeState.MANUAL_MARKED_AS_APPLIED: "marked applied by hand",
    ChangeState.MANUAL_MARKED_AS_ROLLED_BACK: "marked rolled back by hand",
}


@dataclass(frozen=True)
class RedriveHint:
    possible: bool
    until: str | None = None
    why_not: str | None = None


@dataclass(frozen=True)
class Diagnosis:
    change_id: str
    state: str
    meaning: str
    is_issue: bool
    reason: str                      # the issue rule that decided (store/issues.py)
    reason_text: str
    target: str | None
    author: str | None
    started_at: str | None
    created_at: str | None
    error: str | None                # the full error trace of the current row
    error_summary: str | None        # one line, for the issue list
    tx_strategy: str | None
    recovery_strategy: str | None
    transactional: bool | None       # None when nothing says
    apply_id: str | None = None
    apply_state: str | None = None
    apply_error: str | None = None
    attempt: int | None = None
    max_attempts: int | None = None
    failed_at: str | None = None
    task_position: int | None = None
    task_state: str | None = None
    task_attempt: int | None = None
    operations_completed: int | None = None
    operations_total: int | None = None
    current_operation: int | None = None     # the failed or interrupted operation
    current_statement: str | None = None
    partial_state_possible: bool = True
    left_behind: str | None = None   # what a failed statement outside a transaction left
    unsettled: str | None = None     # why the catalog could not settle the current operation
    #: an in-flight task whose target markers could not be read: the counts are the store's
    #: rows, which the runner writes after each target commit (the current one may lag)
    operations_unverified: bool = False
    #: (seq, statement) of each committed operation, so a human sees what is in the target
    committed_operations: list[tuple[int, str]] = field(default_factory=list)
    runner: str | None = None
    lease_expires_at: str | None = None
    #: a running change: who holds the live lease or Flamingock lock, and until when
    lock_owner: str | None = None
    lock_until: str | None = None
    redrive: RedriveHint = field(default_factory=lambda: RedriveHint(False, why_not="no apply"))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _one(conn: Connection, sql: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
    cursor = conn.execute(sql, params)
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else None


def diagnose(conn: Connection, audit_table: str, verdict: Verdict, *, now_ms: int,
             redrive_max_age: float, markers: MarkerReader | None = None) -> Diagnosis:
    facts = verdict.facts
    current = current_state(conn, facts.change_id)
    assert current is not None
    row = audit_row(conn, audit_table, current.audit_id)
    started = _started_at(conn, audit_table, facts.change_id, current.execution_id)
    apply = (_one(conn, "SELECT * FROM setright_applies WHERE id = ?", (facts.execution_id,))
             if facts.execution_id else None)
    task = ops = None
    unverified = False
    failed_seqs: set[int] = set()
    errors: dict[int, str] = {}
    if apply is not None:
        task = _one(conn, "SELECT * FROM setright_tasks WHERE apply_id = ? AND change_id = ?"
                    " ORDER BY position DESC LIMIT 1", (apply["id"], facts.change_id))
        ops = conn.execute(
            "SELECT seq, state, statement FROM setright_operations WHERE apply_id = ?"
            " AND change_id = ? ORDER BY seq", (apply["id"], facts.change_id)).fetchall()
        errors = {int(seq): str(error) for seq, error in conn.execute(
            "SELECT seq, error FROM setright_operations WHERE apply_id = ? AND change_id = ?"
            " AND error IS NOT NULL", (apply["id"], facts.change_id))}
        failed_seqs = set(errors)
        if task is not None and task["state"] == TaskState.RUNNING and markers is not None:
            marks = markers(apply["target"], apply["id"], facts.change_id)
            unverified = marks is None
            ops = settled_by_markers(ops, marks)
    transactional = (None if facts.tx_strategy is None and task is None
                     else facts.transactional if facts.tx_strategy is not None
                     else bool(task and task["transactional"]))
    completed = sum(1 for _, state, _ in ops if state == "completed") if ops else None
    # The operation that failed (a transactional change rolls every operation back to
    # pending, but the failed one is recorded; a rollback script resets them all to
    # pending, and the failed one keeps its error), else the first one not completed.
    current_op = next(((seq, stmt) for seq, state, stmt in ops or []
                       if state in ("failed", "failed_retryable")),
                      next(((seq, stmt) for seq, state, stmt in ops or []
                            if state == "pending" and seq in failed_seqs),
                           next(((seq, stmt) for seq, state, stmt in ops or []
                                 if state != "completed"), (None, None))))
    ap = apply or {}
    op_error = errors.get(current_op[0], "") if current_op[0] is not None else ""
    left_behind = next((line[len(LEFT_BEHIND):] for line in
                        [*str(row.get("error_trace") or "").splitlines(), op_error]
                        if line.startswith(LEFT_BEHIND)), None)
    unsettled = op_error[len(UNSETTLED):] if op_error.startswith(UNSETTLED) else None
    return Diagnosis(
        change_id=facts.change_id,
        state=facts.state,
        meaning=STATUS_MEANING.get(ChangeState(facts.state), "unknown state")
        if facts.state in ChangeState.__members__ else "unknown state",
        is_issue=verdict.is_issue,
        reason=verdict.reason,
        reason_text=verdict.rule.meaning,
        target=facts.target,
        author=row.get("author"),
        started_at=started,
        created_at=current.created_at,
        error=row.get("error_trace") or ap.get("error"),
        error_summary=error_column(verdict.reason, current.error_summary, ap),
        tx_strategy=facts.tx_strategy,
        recovery_strategy=facts.recovery_strategy,
        transactional=transactional,
        apply_id=ap.get("id"),
        apply_state=ap.get("state"),
        apply_error=ap.get("error"),
        attempt=ap.get("attempt"),
        max_attempts=ap.get("max_attempts"),
        failed_at=ap.get("completed_at"),
        task_position=(task or {}).get("position"),
        task_state=(task or {}).get("state"),
        task_attempt=(task or {}).get("attempt"),
        operations_completed=completed,
        operations_total=len(ops) if ops else None,
        current_operation=current_op[0],
        current_statement=current_op[1],
        partial_state_possible=(partial_state_possible(facts.state, transactional, completed)
                                or left_behind is not None),
        left_behind=left_behind,
        unsettled=unsettled,
        operations_unverified=unverified,
        committed_operations=[(seq, stmt) for seq, state, stmt in ops or []
                              if state == "completed"],
        runner=ap.get("lease_owner"),
        lease_expires_at=ap.get("lease_expires_at"),
        lock_owner=facts.lock_owner if verdict.reason == "running" else None,
        lock_until=facts.lock_until if verdict.reason == "running" else None,
        redrive=_redrive_hint(conn, apply, now_ms=now_ms, max_age=redrive_max_age),
    )


def _started_at(conn: Connection, audit_table: str, change_id: str,
                execution_id: str | None) -> str | None:
    """When the execution that wrote the current row began (its STARTED row)."""
    impl = impl_of(conn)
    same_execution, params = (("execution_id IS NULL", ()) if execution_id is None
                              else ("execution_id = ?", (execution_id,)))
    exact, bound = impl.exact_equals_sql("change_id")   # `Foo`'s rows are not `foo`'s
    params = (change_id,) * bound + params
    row = conn.execute(
        f"SELECT {impl.audit_ms_sql(conn, audit_table, 'created_at')}"
        f" FROM {impl.quote(audit_table)} WHERE {exact} AND state = 'STARTED'"
        f" AND {same_execution} ORDER BY id DESC LIMIT 1", params).fetchone()
    ms = row[0] if row else None
    return iso_from_ms(int(ms)) if ms is not None else None


def _redrive_hint(conn: Connection, apply: dict[str, Any] | None, *, now_ms: int,
                  max_age: float) -> RedriveHint:
    """The store-side redrive conditions (the fresh-plan match is `plan`'s to check)."""
    if apply is None:
        return RedriveHint(False, why_not="no setright apply recorded this change")
    if apply["state"] != "failed":
        return RedriveHint(False, why_not=f"apply {apply['id']} is {apply['state']}, not failed")
    from setright.store.applies import active_apply, latest_apply  # not for `issue list`

    latest = latest_apply(conn, apply["target"])
    if latest and latest.id != apply["id"]:
        return RedriveHint(False, why_not=f"apply {latest.id} is newer on {apply['target']}")
    active = active_apply(conn, apply["target"])
    if active:
        return RedriveHint(False, why_not=f"apply {active.id} is active on {apply['target']}")
    failed_ms = ms_from_any(apply["completed_at"])
    if failed_ms is None:
        return RedriveHint(False, why_not="the apply has no failure time")
    until_ms = failed_ms + int(max_age * 1000)
    until = iso_from_ms(until_ms)
    if until_ms < now_ms:
        return RedriveHint(False, until=until, why_not=f"it failed more than redrive.max_age ago "
                           f"(redrivable until {until})")
    rollback_failed = conn.execute(
        "SELECT t.change_id FROM setright_tasks t JOIN setright_change_state cs"
        " ON cs.change_id = t.change_id WHERE t.apply_id = ? AND cs.state = 'ROLLBACK_FAILED'",
        (apply["id"],)).fetchone()
    if rollback_failed:
        return RedriveHint(False, why_not=f"change {rollback_failed[0]} is ROLLBACK_FAILED: "
                           "its rollback's own partial state needs a human")
    return RedriveHint(True, until=until)


def diagnose_issues(conn: Connection, audit_table: str, *, now_ms: int,
                    redrive_max_age: float, markers: MarkerReader | None = None,
                    lock_table: str = FLAMINGOCK_LOCK_TABLE) -> list[Diagnosis]:
    """Every open issue, in Flamingock's order (by current audit row), diagnosed."""
    return [diagnose(conn, audit_table, v, now_ms=now_ms, redrive_max_age=redrive_max_age,
                     markers=markers)
            for v in find_issues(conn, now_ms, lock_table=lock_table)]


def diagnose_change(conn: Connection, audit_table: str, change_id: str, *, now_ms: int,
                    redrive_max_age: float, markers: MarkerReader | None = None,
                    lock_table: str = FLAMINGOCK_LOCK_TABLE) -> Diagnosis | None:
    verdict = verdict_for(conn, now_ms, change_id, lock_table=lock_table)
    if verdict is None:
        return None
    return diagnose(conn, audit_table, verdict, now_ms=now_ms, redrive_max_age=redrive_max_age,
                    markers=markers)
