"""Which changes need a human, as an ordered rule table.

Rows are read top to bottom and the first match decides, exactly like the
table in the design; `reason` on a verdict is the name of the deciding row.
Facts are gathered with indexed lookups from the folded state, never by
reading the whole audit log. The retry-budget row sits right after "done":
it also catches a runner-written ROLLED_BACK whose apply spent its
budget, which would otherwise re-run in a new apply on every `run`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from setright.db import Connection
from setright.db.impl import impl_of
from setright.frozen import made
from setright.store.schema import NON_TERMINAL_APPLY_STATES, creation_order
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
    #: who holds the live lease or lock a STARTED change runs under, and until when
    lock_owner: str | None = None
    lock_until: str | None = None

    @property
    def transactional(self) -> bool:
        return self.tx_strategy in TRANSACTIONAL_STRATEGIES

    @property
    def budget_spent(self) -> bool:
        """The apply that wrote the current row is `failed` with every attempt used."""
        return (self.apply_state == ApplyState.FAILED and self.apply_attempt is not None
                and self.apply_max_attempts is not None
                and self.apply_attempt >= self.apply_max_attempts)


class Rule(NamedTuple):
    """One row of the table (a tuple: cheaper to define than a dataclass, on every start)."""

    name: str
    is_issue: bool
    meaning: str
    matches: Callable[[IssueFacts], bool]


def _queued(f: IssueFacts) -> bool:
    return (f.latest_task_state in (TaskState.FAILED_RETRYABLE, TaskState.PENDING)
            and f.latest_task_apply_state in NON_TERMINAL_APPLY_STATES)


def _retry_budget_exhausted(f: IssueFacts) -> bool:
    """Every attempt of a `failed` apply failed and was undone, unless ALWAYS_RETRY.

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


class Verdict(NamedTuple):
    facts: IssueFacts
    rule: Rule

    @property
    def is_issue(self) -> bool:
        return self.rule.is_issue

    @property
    def reason(self) -> str:
        return self.rule.name


#: Every fact a rule reads (directly or through a property): the rule that decides a
#: change depends on these alone, so `classify` decides each combination once.
RULE_INPUTS = ("state", "tx_strategy", "recovery_strategy", "apply_state", "lease_live",
               "latest_task_state", "latest_task_apply_state", "flamingock_lock_live",
               "apply_attempt", "apply_max_attempts")
_rule_inputs = attrgetter(*RULE_INPUTS)
_decided: dict[tuple[object, ...], Rule] = {}


def decide(facts: IssueFacts) -> Rule:
    """The first rule that matches (a whole log has few combinations of the rules' inputs:
    each is decided once)."""
    key = _rule_inputs(facts)
    rule = _decided.get(key)
    if rule is None:
        rule = next(r for r in RULES if r.matches(facts))   # the last one matches everything
        if len(_decided) < 4096:
            _decided[key] = rule
    return rule


def classify(facts: IssueFacts) -> Verdict:
    return Verdict(facts, decide(facts))


#: A change's facts, `FACT_WIDTH` columns: its own, then those read through the apply that
#: wrote its current row (`ap.`) and through its latest task (`lt.`, in the apply `la.`).
OWN_FACTS = ("cs.change_id", "cs.state", "cs.target_system_id", "cs.tx_strategy",
             "cs.recovery_strategy", "cs.execution_id")
JOINED_FACTS = ("ap.state", "ap.lease_expires_at", "lt.state", "la.state", "ap.attempt",
                "ap.max_attempts", "ap.lease_owner")
FACT_WIDTH = len(OWN_FACTS) + len(JOINED_FACTS)
#: True exactly where a column read through the joins may be non-null: a change no
#: setright apply touched has a null in every one of them.
JOINED_EXIST = "(ap.id IS NOT NULL OR lt.change_id IS NOT NULL)"
_JOINS = """
LEFT JOIN setright_applies ap ON ap.id = cs.execution_id
LEFT JOIN setright_tasks lt ON lt.change_id = cs.change_id AND lt.apply_id = (
    SELECT t.apply_id FROM setright_tasks t JOIN setright_applies a ON a.id = t.apply_id
    WHERE t.change_id = cs.change_id ORDER BY {newest} LIMIT 1)
LEFT JOIN setright_applies la ON la.id = lt.apply_id
"""
#: The columns every rule input is made of (`lease_live`: the apply's state and lease; the
#: Flamingock lock is one fact for the whole read): rows alike in these are decided alike.
#: The change's own three come first, the joined six after them.
RULE_COLUMNS = (1, 3, 4, 6, 7, 8, 9, 10, 11)
#: The joined part of `rule_key` of a change no setright apply touched.
NOT_JOINED = (None,) * 6
rule_key = itemgetter(*RULE_COLUMNS)


def facts_source(conn: Connection) -> str:
    """`FROM` the change state and its joins, for a query of the facts' columns."""
    return "FROM setright_change_state cs" + _JOINS.format(
        newest=creation_order(conn, "a", descending=True))


def unsettled_filter() -> tuple[str, list[str]]:
    """`cs.state NOT IN (NEVER_ISSUES)` as ranges around each value, which an index on state
    answers (a `NOT IN` reads every change), the same on every database and collation; and
    a NULL state (a hand-written row), which no range holds and `issue get` explains."""
    never = sorted(NEVER_ISSUES)
    ranges = ["cs.state > ? AND cs.state < ?" for _ in never[1:]]
    sql = " OR ".join(["cs.state < ?", *ranges, "cs.state > ?", "cs.state IS NULL"])
    params = [never[0], *(v for pair in zip(never, never[1:]) for v in pair), never[-1]]
    return f"({sql})", params


class Facts:
    """What facts rows say at one moment (`now`, the live Flamingock lock): the facts, and
    the deciding rule of each combination of `RULE_COLUMNS`, decided once. A caller that
    lists 10,000 changes decides them by those columns alone, and builds facts only for
    the few it explains."""

    __slots__ = ("now_iso", "lock", "_rules", "_unjoined")

    def __init__(self, now_ms: int, lock: tuple[str, str] | None) -> None:
        self.now_iso = iso_from_ms(now_ms)
        self.lock = lock                 # the live Flamingock lock's (owner, until)
        self._rules = _RuleCache(self)
        self._unjoined = _UnjoinedCache(self._rules)

    def of(self, row: Sequence[Any]) -> IssueFacts:
        """The facts of a row of `FACT_WIDTH` columns (`OWN_FACTS`, `JOINED_FACTS`)."""
        # a terminal apply holds nothing, whatever its lease time says
        lease_live = (bool(row[7]) and row[7] > self.now_iso
                      and row[6] in NON_TERMINAL_APPLY_STATES)
        owner, until = (row[12], row[7]) if lease_live else self.lock or (None, None)
        return made(IssueFacts, dict(zip(_FACT_NAMES, (
            row[0], row[1], row[2], row[3], row[4], row[5], row[6], lease_live, row[8], row[9],
            self.lock is not None, row[10], row[11], owner, until), strict=True)))

    def rules(self, keys: Iterable[tuple[Any, ...]]) -> list[Rule]:
        """The deciding rule of each `rule_key`."""
        return list(map(self._rules.__getitem__, keys))

    def decided(self) -> list[Rule]:
        """Every rule `rules` and `unjoined_rules` gave so far, once each."""
        return list({id(rule): rule for rule in self._rules.values()}.values())

    def unjoined_rules(self, keys: Iterable[tuple[Any, ...]]) -> list[Rule]:
        """The deciding rule of each change no setright apply touched, by the first three
        of its `rule_key` (its own columns; the joined ones are `NOT_JOINED`)."""
        return list(map(self._unjoined.__getitem__, keys))


def facts_at(conn: Connection, now_ms: int, lock_table: str = FLAMINGOCK_LOCK_TABLE) -> Facts:
    return Facts(now_ms, flamingock_lock_holder(conn, now_ms, lock_table))


class _RuleCache(dict[tuple[Any, ...], Rule]):
    """Rule by a row's `RULE_COLUMNS`: a miss decides a row made of those columns alone
    (a rule reads nothing else; tests/store/test_issue_rules.py keeps it so)."""

    def __init__(self, facts: Facts) -> None:
        super().__init__()
        self._facts = facts

    def __missing__(self, key: tuple[Any, ...]) -> Rule:
        row: list[Any] = [None] * FACT_WIDTH
        for column, value in zip(RULE_COLUMNS, key, strict=True):
            row[column] = value
        rule = self[key] = decide(self._facts.of(row))
        return rule


class _UnjoinedCache(dict[tuple[Any, ...], Rule]):
    def __init__(self, rules: _RuleCache) -> None:
        super().__init__()
        self._rules = rules

    def __missing__(self, key: tuple[Any, ...]) -> Rule:
        rule = self[key] = self._rules[key + NOT_JOINED]
        return rule


def facts_rows(conn: Connection, now_ms: int, *, change_id: str | None = None,
               change_ids: Sequence[str] | None = None, target: str | None = None,
               unsettled_only: bool = True, lock_table: str = FLAMINGOCK_LOCK_TABLE,
               extra_columns: str = "") -> Iterator[tuple[IssueFacts, tuple[Any, ...]]]:
    """(facts, the row's `extra_columns`) per change, in Flamingock's order (see
    `gather_facts`); `extra_columns` may name `cs.`, `ap.` (the current row's apply) and
    `lt.` (the change's latest task). `change_ids`: only these (a caller keeps the list
    well under a dialect's limit on bound parameters)."""
    where, params = [], []
    if unsettled_only:
        unsettled, params = unsettled_filter()
        where.append(unsettled)
    if change_id is not None:
        where.append("cs.change_id = ?")
        params.append(change_id)
    if change_ids is not None:
        where.append(f"cs.change_id IN ({', '.join('?' for _ in change_ids)})")
        params.extend(change_ids)
    if target is not None:
        where.append("cs.target_system_id = ?")
        params.append(target)
    sql = (f"SELECT {', '.join(OWN_FACTS + JOINED_FACTS)}"
           + (", " + extra_columns if extra_columns else "") + " " + facts_source(conn)
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY cs.audit_id")
    facts = facts_at(conn, now_ms, lock_table)
    for row in conn.execute(sql, params):
        yield facts.of(row), tuple(row[FACT_WIDTH:])


_FACT_NAMES = tuple(f.name for f in fields(IssueFacts))


def gather_facts(conn: Connection, now_ms: int, *, change_id: str | None = None,
                 target: str | None = None, unsettled_only: bool = True,
                 lock_table: str = FLAMINGOCK_LOCK_TABLE) -> list[IssueFacts]:
    """Facts for one change, one target, or every change that may be an issue, in
    Flamingock's order (by the id of the current audit row).

    Done and hand-marked states can only be queued/done/rolled-back, never
    issues, so the (indexed) filter on state keeps this proportional to the
    unsettled changes. A runner-written ROLLED_BACK stays in: it is an issue
    when its apply spent the retry budget.
    """
    return [facts for facts, _ in facts_rows(conn, now_ms, change_id=change_id, target=target,
                                              unsettled_only=unsettled_only,
                                              lock_table=lock_table)]


def flamingock_lock_holder(conn: Connection, now_ms: int,
                           table: str = FLAMINGOCK_LOCK_TABLE) -> tuple[str, str] | None:
    """(owner, expiry as ISO text) of the live lock a Flamingock runner holds in `table`
    (`key`, `status`, `owner`, `expires_at` in epoch ms), or None: no table, no live row."""
    impl = impl_of(conn)
    if not impl.table_exists(conn, table):
        return None
    marks = ", ".join("?" for _ in _RELEASED_LOCK_STATUSES)
    expires = impl.audit_ms_sql(conn, table, "expires_at")
    row = conn.execute(
        f"SELECT owner, {expires} FROM {impl.quote(table)} WHERE {expires} > ?"
        f" AND coalesce(upper(status), '') NOT IN ({marks}) ORDER BY 2 DESC",
        (now_ms, *_RELEASED_LOCK_STATUSES),
    ).fetchone()
    return None if row is None else (str(row[0] or "a Flamingock runner"), iso_from_ms(int(row[1])))


def flamingock_lock_live(conn: Connection, now_ms: int,
                         table: str = FLAMINGOCK_LOCK_TABLE) -> bool:
    """Whether a Flamingock runner holds its lock."""
    return flamingock_lock_holder(conn, now_ms, table) is not None


def find_issues(conn: Connection, now_ms: int, *, target: str | None = None,
                lock_table: str = FLAMINGOCK_LOCK_TABLE) -> list[Verdict]:
    """Every change that needs a human, in Flamingock's order."""
    verdicts = (classify(f) for f in gather_facts(conn, now_ms, target=target,
                                                  lock_table=lock_table))
    return [v for v in verdicts if v.is_issue]


def verdict_for(conn: Connection, now_ms: int, change_id: str, *,
                lock_table: str = FLAMINGOCK_LOCK_TABLE) -> Verdict | None:
    facts = gather_facts(conn, now_ms, change_id=change_id, unsettled_only=False,
                         lock_table=lock_table)
    return classify(facts[0]) if facts else None


def blocking_issues(conn: Connection, now_ms: int, target: str, *,
                    lock_table: str = FLAMINGOCK_LOCK_TABLE) -> list[Verdict]:
    """A target is blocked while it has an issue: `run` refuses it and names them."""
    return find_issues(conn, now_ms, target=target, lock_table=lock_table)
