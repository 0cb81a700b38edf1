"""Which changes need a human, as an ordered rule table.

Rows are read top to bottom and the first match decides, exactly like the
table in the design; `reason` on a verdict is the name of the deciding row.
Facts are gathered with indexed lookups from the folded state, never by
reading the whole audit log. The retry-budget row sits right after "done"
(§9.9): it also catches a runner-written ROLLED_BACK whose apply spent its
budget, which would otherwise re-run in a new apply on every `run`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from setright.db import Connection
from setright.db.impl import impl_of
from setright.store.applies import creation_order
from setright.store.schema import NON_TERMINAL_APPLY_STATES
from setright.store.states import (
    DONE_STATES,
    ROLLED_BACK_STATES,
    SETTLED_STATES,
    TRANSACTIONAL_STRATEGIES,
    ApplyState,
    ChangeState,
    Recovery,
    TaskState,
)
from setright.timeutil import iso_from_ms

FLAMINGOCK_LOCK_TABLE = "flamingockLock"
#: Current states no row of the table can make an issue.
NEVER_ISSUES = SETTLED_STATES - {ChangeState.ROLLED_BACK}
_RELEASED_LOCK_STATUSES = ("RELEASED", "UNLOCKED", "FREE")


@dataclass(frozen=True)
class IssueFacts:
    """Everything the rule table looks at for one change."""

    change_id: str
    state: str
    target: str | None
    tx_strategy: str | None
    recovery_strategy: str | None
    execution_id: str | None
    apply_state: str | None          # the apply that wrote the current row (execution_id)
    lease_live: bool                 # that apply holds a live lease
    latest_task_state: str | None    # the change's latest task, in whichever apply
    latest_task_apply_state: str | None
    flamingock_lock_live: bool = False
    apply_attempt: int | None = None       # of the apply that wrote the current row
    apply_max_attempts: int | None = None

    @property
    def transactional(self) -> bool:
        return self.tx_strategy in TRANSACTIONAL_STRATEGIES

    @property
    def budget_spent(self) -> bool:
        """The apply that wrote the current row is `failed` with every attempt used (§9.9)."""
        return (self.apply_state == ApplyState.FAILED and self.apply_attempt is not None
                and self.apply_max_attempts is not None
                and self.apply_attempt >= self.apply_max_attempts)


@dataclass(frozen=True)
class Rule:
    name: str
    is_issue: bool
    meaning: str
    matches: Callable[[IssueFacts], bool]


def _queued(f: IssueFacts) -> bool:
    return (f.latest_task_state in (TaskState.FAILED_RETRYABLE, TaskState.PENDING)
            and f.latest_task_apply_state in NON_TERMINAL_APPLY_STATES)


def _retry_budget_exhausted(f: IssueFacts) -> bool:
    """Every attempt of a `failed` apply failed and was undone (§9.9), unless ALWAYS_RETRY.

    Undone by the database (transactional FAILED: the apply only fails once the
    budget is spent) or by the change's rollback script (a runner-written
    ROLLED_BACK in an apply whose attempts are all used). Either way a new
    apply in the next `run` would just spend a new budget on the same failure.
    """
    if f.recovery_strategy == Recovery.ALWAYS_RETRY:
        return False
    if f.state == ChangeState.FAILED:
        return f.transactional and f.apply_state == ApplyState.FAILED
    return f.state == ChangeState.ROLLED_BACK and f.budget_spent


RULES: tuple[Rule, ...] = (
    Rule("queued", False, "queued: retrying or redriven", _queued),
    Rule("done", False, "done", lambda f: f.state in DONE_STATES),
    Rule("retry-budget-exhausted", True, "retry budget exhausted: redrive or mark",
         _retry_budget_exhausted),
    Rule("rolled-back", False, "rolled back: re-runs next time",
         lambda f: f.state in ROLLED_BACK_STATES),
    Rule("running", False, "running",
         lambda f: f.state == ChangeState.STARTED and (f.lease_live or f.flamingock_lock_live)),
    Rule("always-retry", False, "retried (ALWAYS_RETRY)",
         lambda f: f.state in (ChangeState.STARTED, ChangeState.FAILED,
                               ChangeState.ROLLBACK_FAILED)
         and f.recovery_strategy == Recovery.ALWAYS_RETRY),
    Rule("started-never-completed", True, "started, never completed",
         lambda f: f.state == ChangeState.STARTED),
    Rule("rolled-back-by-database", False,
         "transactional: rolled back by the database; a new apply retries it",
         lambda f: f.state == ChangeState.FAILED and f.transactional),
    Rule("failed-non-transactional", True, "failed outside a transaction",
         lambda f: f.state == ChangeState.FAILED),
    Rule("rollback-failed", True, "rollback failed", lambda f: f.state == ChangeState.ROLLBACK_FAILED),
    Rule("unknown-state", True, "unknown state", lambda f: True),
)


@dataclass(frozen=True)
class Verdict:
    facts: IssueFacts
    rule: Rule

    @property
    def is_issue(self) -> bool:
        return self.rule.is_issue

    @property
    def reason(self) -> str:
        return self.rule.name


def classify(facts: IssueFacts) -> Verdict:
    for rule in RULES:
        if rule.matches(facts):
            return Verdict(facts, rule)
    raise AssertionError("the last rule matches everything")  # pragma: no cover


_FACTS_SQL = """
SELECT cs.change_id, cs.state, cs.target_system_id, cs.tx_strategy, cs.recovery_strategy,
       cs.execution_id, ap.state, ap.lease_expires_at, lt.state, la.state,
       ap.attempt, ap.max_attempts
FROM setright_change_state cs
LEFT JOIN setright_applies ap ON ap.id = cs.execution_id
LEFT JOIN setright_tasks lt ON lt.change_id = cs.change_id AND lt.apply_id = (
    SELECT t.apply_id FROM setright_tasks t JOIN setright_applies a ON a.id = t.apply_id
    WHERE t.change_id = cs.change_id ORDER BY {newest} LIMIT 1)
LEFT JOIN setright_applies la ON la.id = lt.apply_id
"""


def gather_facts(conn: Connection, now_ms: int, *, change_id: str | None = None,
                 target: str | None = None, unsettled_only: bool = True) -> list[IssueFacts]:
    """Facts for one change, one target, or every change that may be an issue.

    Done and hand-marked states can only be queued/done/rolled-back, never
    issues, so the (indexed) filter on state keeps this proportional to the
    unsettled changes. A runner-written ROLLED_BACK stays in: it is an issue
    when its apply spent the retry budget.
    """
    where, params = [], []
    if unsettled_only:
        where.append(f"cs.state NOT IN ({', '.join('?' for _ in NEVER_ISSUES)})")
        params += sorted(NEVER_ISSUES)
    if change_id is not None:
        where.append("cs.change_id = ?")
        params.append(change_id)
    if target is not None:
        where.append("cs.target_system_id = ?")
        params.append(target)
    sql = _FACTS_SQL.format(newest=creation_order(conn, "a", descending=True)) + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY cs.created_ms, cs.change_id"
    now_iso = iso_from_ms(now_ms)
    flamingock_live = flamingock_lock_live(conn, now_ms)
    return [
        IssueFacts(
            change_id=row[0], state=row[1], target=row[2], tx_strategy=row[3],
            recovery_strategy=row[4], execution_id=row[5], apply_state=row[6],
            # a terminal apply holds nothing, whatever its lease time says
            lease_live=bool(row[7]) and row[7] > now_iso
            and row[6] in NON_TERMINAL_APPLY_STATES, latest_task_state=row[8],
            latest_task_apply_state=row[9], flamingock_lock_live=flamingock_live,
            apply_attempt=row[10], apply_max_attempts=row[11],
        )
        for row in conn.execute(sql, params)
    ]


def flamingock_lock_live(conn: Connection, now_ms: int) -> bool:
    """Whether a Flamingock runner holds its lock (`flamingockLock`, expiry in epoch ms)."""
    impl = impl_of(conn)
    if not impl.table_exists(conn, FLAMINGOCK_LOCK_TABLE):
        return False
    marks = ", ".join("?" for _ in _RELEASED_LOCK_STATUSES)
    expires = impl.audit_ms_sql(conn, FLAMINGOCK_LOCK_TABLE, "expires_at")
    row = conn.execute(
        f"SELECT 1 FROM {impl.quote(FLAMINGOCK_LOCK_TABLE)} WHERE {expires} > ?"
        f" AND coalesce(upper(status), '') NOT IN ({marks}) LIMIT 1",
        (now_ms, *_RELEASED_LOCK_STATUSES),
    ).fetchone()
    return row is not None


def find_issues(conn: Connection, now_ms: int, *, target: str | None = None) -> list[Verdict]:
    """Every change that needs a human, oldest first."""
    verdicts = (classify(f) for f in gather_facts(conn, now_ms, target=target))
    return [v for v in verdicts if v.is_issue]


def verdict_for(conn: Connection, now_ms: int, change_id: str) -> Verdict | None:
    facts = gather_facts(conn, now_ms, change_id=change_id, unsettled_only=False)
    return classify(facts[0]) if facts else None


def blocking_issues(conn: Connection, now_ms: int, target: str) -> list[Verdict]:
    """A target is blocked while it has an issue: `run` refuses it and names them."""
    return find_issues(conn, now_ms, target=target)
