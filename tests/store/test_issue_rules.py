"""The §4.4 issue table, row by row, including first-match ordering."""

from __future__ import annotations

import dataclasses
import operator

import pytest

from setright import frozen
from setright.store.issues import (
    FACT_WIDTH,
    NEVER_ISSUES,
    RULE_COLUMNS,
    RULE_INPUTS,
    RULES,
    NOT_JOINED,
    OWN_FACTS,
    Facts,
    IssueFacts,
    classify,
    rule_key,
    unsettled_filter,
)

BASE = IssueFacts(
    change_id="c", state="FAILED", target="user-db", tx_strategy="NON_TX",
    recovery_strategy="MANUAL_INTERVENTION", execution_id="ap-1", apply_state="failed",
    lease_live=False, latest_task_state="failed", latest_task_apply_state="failed",
)


def facts(**changes: object) -> IssueFacts:
    return dataclasses.replace(BASE, **changes)


# (case, facts, expected rule name, is issue)
TABLE = [
    # row 1: queued wins over everything, even a state that would otherwise be an issue
    ("queued retrying", facts(latest_task_state="failed_retryable",
                              latest_task_apply_state="failed_retryable"), "queued", False),
    ("queued redriven pending task", facts(state="STARTED", latest_task_state="pending",
                                           latest_task_apply_state="running"), "queued", False),
    ("retryable task but terminal apply is not queued",
     facts(latest_task_state="failed_retryable", latest_task_apply_state="failed"),
     "failed-non-transactional", True),
    # rows 2-3
    ("applied", facts(state="APPLIED"), "done", False),
    ("manually applied", facts(state="MANUAL_MARKED_AS_APPLIED"), "done", False),
    # row 3 (§9.9): the retry budget, before "rolled back" so a spent budget cannot re-run
    ("rolled back, budget spent", facts(state="ROLLED_BACK", apply_attempt=3,
                                        apply_max_attempts=3), "retry-budget-exhausted", True),
    ("rolled back, budget spent, always-retry",
     facts(state="ROLLED_BACK", apply_attempt=3, apply_max_attempts=3,
           recovery_strategy="ALWAYS_RETRY"), "rolled-back", False),
    ("rolled back, apply failed with budget left (runner lost)",
     facts(state="ROLLED_BACK", apply_attempt=1, apply_max_attempts=3), "rolled-back", False),
    ("rolled back, budget spent but apply cancelled",
     facts(state="ROLLED_BACK", apply_state="cancelled", apply_attempt=3, apply_max_attempts=3),
     "rolled-back", False),
    ("rolled back, budget spent but redriven",
     facts(state="ROLLED_BACK", apply_state="failed_retryable", apply_attempt=0,
           apply_max_attempts=3, latest_task_state="failed_retryable",
           latest_task_apply_state="failed_retryable"), "queued", False),
    ("marked rolled back after a spent budget",
     facts(state="MANUAL_MARKED_AS_ROLLED_BACK", apply_attempt=3, apply_max_attempts=3),
     "rolled-back", False),
    ("rolled back", facts(state="ROLLED_BACK"), "rolled-back", False),
    ("manually rolled back", facts(state="MANUAL_MARKED_AS_ROLLED_BACK"), "rolled-back", False),
    # row 4: running
    ("started with live lease", facts(state="STARTED", lease_live=True), "running", False),
    ("started with live flamingock lock", facts(state="STARTED", flamingock_lock_live=True),
     "running", False),
    # row 5: ALWAYS_RETRY, before the STARTED/FAILED issue rows
    ("started always-retry", facts(state="STARTED", recovery_strategy="ALWAYS_RETRY"),
     "always-retry", False),
    ("failed always-retry", facts(recovery_strategy="ALWAYS_RETRY"), "always-retry", False),
    ("rollback failed always-retry", facts(state="ROLLBACK_FAILED", recovery_strategy="ALWAYS_RETRY"),
     "always-retry", False),
    ("live lease beats always-retry", facts(state="STARTED", lease_live=True,
                                            recovery_strategy="ALWAYS_RETRY"), "running", False),
    # row 6
    ("started, lease expired", facts(state="STARTED"), "started-never-completed", True),
    # rows 3 and 8: transactional FAILED
    ("tx failed, budget spent", facts(tx_strategy="TX_SHARED"), "retry-budget-exhausted", True),
    ("tx failed, budget spent, always-retry",
     facts(tx_strategy="TX_SHARED", recovery_strategy="ALWAYS_RETRY"), "always-retry", False),
    ("tx (separate) failed, budget spent", facts(tx_strategy="TX_SEPARATE_WITH_MARKER"),
     "retry-budget-exhausted", True),
    ("tx failed, apply cancelled", facts(tx_strategy="TX_SHARED", apply_state="cancelled"),
     "rolled-back-by-database", False),
    ("tx failed, apply retrying", facts(tx_strategy="TX_SHARED", apply_state="failed_retryable"),
     "rolled-back-by-database", False),
    ("tx failed, no apply", facts(tx_strategy="TX_SHARED", apply_state=None, execution_id="x"),
     "rolled-back-by-database", False),
    # row 9
    ("non-tx failed", facts(), "failed-non-transactional", True),
    ("unknown tx strategy failed", facts(tx_strategy=None), "failed-non-transactional", True),
    ("unknown tx text failed", facts(tx_strategy="WHATEVER"), "failed-non-transactional", True),
    # row 10
    ("rollback failed", facts(state="ROLLBACK_FAILED"), "rollback-failed", True),
    ("tx rollback failed", facts(state="ROLLBACK_FAILED", tx_strategy="TX_SHARED"),
     "rollback-failed", True),
    # beyond the table: a state setright does not know needs a human
    ("unknown state", facts(state="PAUSED"), "unknown-state", True),
]


@pytest.mark.parametrize(("case", "f", "rule", "is_issue"), TABLE, ids=[t[0] for t in TABLE])
def test_issue_rule_table(case: str, f: IssueFacts, rule: str, is_issue: bool) -> None:
    verdict = classify(f)
    assert (verdict.reason, verdict.is_issue) == (rule, is_issue)


def test_rule_order_is_the_designs() -> None:
    assert [r.name for r in RULES] == [
        "queued", "done", "retry-budget-exhausted", "rolled-back", "running", "always-retry",
        "started-never-completed", "rolled-back-by-database", "failed-non-transactional",
        "rollback-failed", "unknown-state",
    ]


def test_every_rule_is_reachable_and_decides_somewhere() -> None:
    decided = {classify(f).reason for _, f, _, _ in TABLE}
    assert decided == {r.name for r in RULES}


def test_rules_read_only_the_declared_inputs() -> None:
    """`classify` decides each combination of RULE_INPUTS once: no rule may read another fact."""
    seen: set[str] = set()

    class Spy:
        def __init__(self, f: IssueFacts) -> None:
            self._f = f

        def __getattr__(self, name: str) -> object:
            seen.add(name)
            return getattr(self._f, name)

    for name, value in vars(IssueFacts).items():   # properties read through the spy
        if isinstance(value, property):
            setattr(Spy, name, value)
    for _, f, _, _ in TABLE:
        for rule in RULES:
            rule.matches(Spy(f))  # type: ignore[arg-type]
    assert seen and seen <= set(RULE_INPUTS)
    assert set(RULE_INPUTS) <= {field.name for field in dataclasses.fields(IssueFacts)}


def test_the_unsettled_filter_needs_one_order_in_every_collation() -> None:
    """Its ranges sit between the sorted never-issue states: they sort alike with or without
    case and punctuation (MySQL's and ICU's collations)."""
    never = sorted(NEVER_ISSUES)
    assert never == sorted(NEVER_ISSUES, key=lambda s: s.lower().replace("_", ""))
    sql, params = unsettled_filter()
    assert sql.count("?") == len(params) == 2 * len(never)


def test_made_facts_are_what_the_generated_init_makes() -> None:
    names = tuple(field.name for field in dataclasses.fields(IssueFacts))
    made = frozen.made(IssueFacts, {name: getattr(BASE, name) for name in names})
    assert made == BASE and hash(made) == hash(BASE) and repr(made) == repr(BASE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.state = "APPLIED"  # type: ignore[misc]


def _row(f: IssueFacts, lease: str | None = None) -> list[object]:
    """A facts-query row (`issues.FACT_WIDTH` columns) saying what `f` says."""
    return [f.change_id, f.state, f.target, f.tx_strategy, f.recovery_strategy, f.execution_id,
            f.apply_state, lease, f.latest_task_state, f.latest_task_apply_state,
            f.apply_attempt, f.apply_max_attempts, "runner-1"]


NOW_MS = 1_795_348_800_000   # 2026-11-22T12:00:00Z


@pytest.mark.parametrize("lock", [None, ("flamingock", "2026-11-22T12:01:00.000Z")])
def test_rules_of_rows_decide_each_row_as_its_facts(lock: tuple[str, str] | None) -> None:
    """`FactRows.rules` decides once per combination of RULE_COLUMNS: every row of a mixed
    read (many repeats, leases live and expired) gets the rule its own facts get."""
    cases = [f for _, f, _, _ in TABLE] + [facts(state="STARTED", apply_state="running")]
    rows = [_row(f, lease) for f in cases
            for lease in (None, "2026-11-22T12:05:00.000Z", "2026-11-22T11:55:00.000Z")]
    rows = [tuple(r) for r in rows * 3]
    read = Facts(NOW_MS, lock)
    rules = read.rules(map(rule_key, rows))
    assert rules == [classify(read.of(r)).rule for r in rows]
    assert {r.name for r in rules} >= {"running", "queued", "unknown-state"}


def test_rule_columns_hold_every_rule_input() -> None:
    """A column outside RULE_COLUMNS changes no rule input, whatever it holds."""
    read = Facts(NOW_MS, None)
    rule_inputs = operator.attrgetter(*RULE_INPUTS)
    for _, f, _, _ in TABLE:
        row = _row(f, "2026-11-22T12:05:00.000Z")
        for column in set(range(FACT_WIDTH)) - set(RULE_COLUMNS):
            other = list(row)
            other[column] = "something else"
            assert rule_inputs(read.of(other)) == rule_inputs(read.of(row)), column
    assert all(0 <= c < FACT_WIDTH for c in RULE_COLUMNS)
    # a change no setright apply touched: null in every joined column, its key's tail
    assert [c for c in RULE_COLUMNS if c >= len(OWN_FACTS)] == list(
        range(len(OWN_FACTS), len(OWN_FACTS) + len(NOT_JOINED)))
