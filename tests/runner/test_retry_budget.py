"""Retry budgets hold across runs.

`max_attempts` counts executions of an apply whatever the number of `run`s: a
change that fails and is undone (by its rollback script, or by the database)
runs `max_attempts` times in total, then it is an issue and its target is
blocked until someone marks it, redrives the apply or cancels it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runhelp import Project, audit_states, mask
from setright.store.applies import get_apply
from setright.timeutil import FixedClock
from storehelp import T0

FAILING = "INSERT INTO log VALUES (1);\nINSERT INTO missing VALUES (1);"


def budget_project(root: Path, *, transactional: bool, **change: object) -> Project:
    p = Project(root, max_attempts=3)
    p.change("_0001__base", apply="CREATE TABLE log (id INTEGER)")
    fields: dict[str, object] = {"transactional": transactional, "apply": FAILING, **change}
    if not transactional:
        fields.setdefault("rollback", "DELETE FROM log")
    p.change("_0002__flaky", **fields)
    return p


def executions(store, change_id: str) -> int:  # type: ignore[no-untyped-def]
    """How many times the runner began the change: its STARTED rows in the audit log."""
    return audit_states(store, change_id).count("STARTED")


@pytest.mark.parametrize("transactional", [False, True], ids=["non-tx-rolled-back", "tx"])
def test_three_runs_execute_a_failing_change_max_attempts_times_in_total(
        tmp_path: Path, transactional: bool, snapshot) -> None:
    p = budget_project(tmp_path / "p", transactional=transactional)
    clock = FixedClock(T0)
    store = p.open_store(clock)
    [first] = p.run(store)
    assert (first.status, first.attempts, first.max_attempts) == ("failed", 3, 3)
    assert get_apply(store.conn, first.apply_id).state == "failed"
    assert executions(store, "flaky") == 3
    for _ in range(2):
        clock.advance(1)
        [again] = p.run(store)
        assert again.status == "blocked" and again.apply_id is None
        assert "flaky" in "\n".join(again.details)
        assert "retry budget exhausted" in "\n".join(again.details)
    assert executions(store, "flaky") == 3
    assert store.conn.execute("SELECT count(*) FROM setright_applies").fetchone() == (1,)
    assert p.query("SELECT count(*) FROM log") == [(0,)]  # every attempt was undone
    listed = p.cli("--ascii", "issue", "list", "--exit-code", clock=clock)
    assert listed.exit_code == 3
    assert "retry budget exhausted (3 of 3)" in listed.output
    assert mask(listed.output) == snapshot(name="issue list")
    refused = p.cli("run", clock=clock)
    assert refused.exit_code == 1
    assert mask(refused.output) == snapshot(name="run refuses")
    store.close()


def test_marking_rolled_back_is_a_change_and_the_next_run_reruns_it(tmp_path: Path) -> None:
    p = budget_project(tmp_path / "p", transactional=False)
    clock = FixedClock(T0)
    store = p.open_store(clock)
    [first] = p.run(store)
    assert audit_states(store, "flaky")[-1] == "ROLLED_BACK"
    plan = p.cli("audit", "fix", "-c", "flaky", "-r", "ROLLED_BACK", "--reason", "fixed the cause",
                 "--yes", clock=clock)
    assert plan.exit_code == 0, plan.output
    assert "Nothing to do" not in plan.output
    assert audit_states(store, "flaky")[-1] == "MANUAL_MARKED_AS_ROLLED_BACK"
    assert p.cli("issue", "list", "--exit-code", clock=clock).exit_code == 0
    p.query("CREATE TABLE missing (id INTEGER)")  # the cause, fixed in the target
    clock.advance(1)
    [rerun] = p.run(store)
    assert rerun.status == "completed" and rerun.apply_id != first.apply_id
    assert (rerun.attempts, executions(store, "flaky")) == (1, 4)
    assert audit_states(store, "flaky")[-1] == "APPLIED"
    store.close()


def test_cancelling_the_spent_apply_unblocks_the_target(tmp_path: Path) -> None:
    p = budget_project(tmp_path / "p", transactional=False)
    clock = FixedClock(T0)
    store = p.open_store(clock)
    [first] = p.run(store)
    result = p.cli("applies", "cancel", first.apply_id, "--reason", "will fix the cause",
                   "--yes", clock=clock)
    assert result.exit_code == 0, result.output
    [again] = p.run(store)
    assert again.status == "failed" and again.apply_id != first.apply_id
    assert executions(store, "flaky") == 6  # a new apply, a new budget: someone decided so
    store.close()


def test_always_retry_is_never_an_issue_and_retries_every_run(tmp_path: Path) -> None:
    p = budget_project(tmp_path / "p", transactional=False,
                       recovery={"strategy": "ALWAYS_RETRY"})
    clock = FixedClock(T0)
    store = p.open_store(clock)
    for run in (1, 2):
        [outcome] = p.run(store)
        assert outcome.status == "failed" and outcome.attempts == 3
        assert executions(store, "flaky") == 3 * run
        clock.advance(1)
    assert p.cli("issue", "list", "--exit-code", clock=clock).exit_code == 0
    store.close()
