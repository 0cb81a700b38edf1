"""The runner's execution rules, in-process against real SQLite files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runhelp import ACTOR, Project, audit_states, mask, one, state_rows
from setright.runner.execute import TargetRefused  # noqa: F401 - part of the public surface
from setright.store.applies import get_apply, list_applies, operations_of, tasks_of
from setright.store.audit import mark_change
from setright.store.issues import blocking_issues
from setright.store.transitions import Provenance
from storehelp import T0


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path / "proj")



def test_applies_pending_changes_in_file_order_with_markers(project: Project, clock) -> None:
    project.change("_0001__create", apply="CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);")
    project.change("_0002__fill", apply="INSERT INTO t (v) VALUES ('a');\n"
                   "INSERT INTO t (v) VALUES ('b');", author="bob")
    store = project.open_store(clock)
    [outcome] = project.run(store)
    assert (outcome.status, outcome.apply_state, outcome.attempts) == ("completed", "completed", 1)
    assert (outcome.operations_done, outcome.operations_total) == (3, 3)
    assert project.query("SELECT v FROM t ORDER BY id") == [("a",), ("b",)]
    assert project.markers() == [("create", 1), ("fill", 1), ("fill", 2)]
    assert audit_states(store, "fill") == ["STARTED", "APPLIED"]
    apply = get_apply(store.conn, outcome.apply_id)
    assert [t.position for t in tasks_of(store.conn, apply.id)] == [1, 2]
    assert [(o.change_id, o.seq, o.state) for o in operations_of(store.conn, apply.id)] == [
        ("create", 1, "completed"), ("fill", 1, "completed"), ("fill", 2, "completed")]
    # nothing pending: the second run has nothing to do and creates no apply
    [again] = project.run(store)
    assert again.status == "up-to-date" and again.ok
    assert len(list_applies(store.conn)) == 1


def test_audit_rows_are_written_the_flamingock_way(project: Project, clock) -> None:
    project.change("_0001__create", apply="CREATE TABLE t (id INTEGER);", author="alice",
                   recovery="ALWAYS_RETRY")
    project.change("_0002__loose", apply="INSERT INTO t VALUES (1)", transactional=False)
    store = project.open_store(clock)
    [outcome] = project.run(store)
    rows = store.conn.execute(
        "SELECT change_id, state, execution_id, author, target_system_id, tx_strategy,"
        " recovery_strategy, transaction_flag, change_order, source_file, type,"
        " execution_hostname IS NOT NULL, metadata FROM setright_audit_log ORDER BY id").fetchall()
    applied = [r for r in rows if r[1] == "APPLIED"]
    assert [r[:11] for r in applied] == [
        ("create", "APPLIED", outcome.apply_id, "alice", "app", "TX_SEPARATE_WITH_MARKER",
         "ALWAYS_RETRY", 1, "_0001__create.yaml", "changes/app/_0001__create.yaml",
         "STANDARD_TEMPLATE"),
        ("loose", "APPLIED", outcome.apply_id, None, "app", "NON_TX", "MANUAL_INTERVENTION", 0,
         "_0002__loose.yaml", "changes/app/_0002__loose.yaml", "STANDARD_TEMPLATE"),
    ]
    assert all(r[11] for r in rows)
    meta = json.loads(applied[0][12])["setright"]
    assert meta["actor"] == ACTOR and meta["source"] == "runner" and meta["attempt"] == 1
    assert meta["checksum"].startswith("c1:")
    created = [r[0] for r in store.conn.execute(
        "SELECT created_at FROM setright_audit_log ORDER BY id")]
    # the fixed clock never moves: the created_at rule still orders every change's rows
    assert created == [T0, T0 + 1, T0, T0 + 1]


def test_transactional_failure_leaves_target_untouched_then_budget_spent(project: Project,
                                                                         clock) -> None:
    project.change("_0001__base", apply="CREATE TABLE t (id INTEGER PRIMARY KEY);")
    project.change("_0002__bad", apply="INSERT INTO t VALUES (1);\nINSERT INTO nope VALUES (1);")
    store = project.open_store(clock)
    [outcome] = project.run(store)
    assert (outcome.status, outcome.apply_state, outcome.attempts) == ("failed", "failed", 3)
    assert not outcome.ok and outcome.failed_change == "bad"
    assert project.query("SELECT count(*) FROM t") == [(0,)]        # rolled back every time
    assert project.markers() == [("base", 1)]
    # exactly max_attempts executions: three STARTED/FAILED pairs, nothing more
    assert audit_states(store, "bad") == ["STARTED", "FAILED"] * 3
    trace = one(store, "SELECT error_trace, tx_strategy FROM setright_audit_log"
                " WHERE change_id = 'bad' ORDER BY id DESC LIMIT 1")
    assert trace[0].startswith("operation 2 of 2 failed: OperationalError: no such table: nope")
    assert "statement: INSERT INTO nope VALUES (1);" in trace[0]
    assert trace[1] == "TX_SEPARATE_WITH_MARKER"
    events = [r[0] for r in store.conn.execute(
        "SELECT new_state FROM setright_events WHERE kind = 'apply' AND apply_id = ? ORDER BY id",
        (outcome.apply_id,))]
    assert events == ["pending", "running", "failed_retryable", "running", "failed_retryable",
                      "running", "failed"]
    [bad_task] = [t for t in tasks_of(store.conn, outcome.apply_id) if t.change_id == "bad"]
    assert (bad_task.state, bad_task.attempt) == ("failed", 3)
    ops = operations_of(store.conn, outcome.apply_id, "bad")
    assert [(o.seq, o.state) for o in ops] == [(1, "pending"), (2, "failed")]
    # the budget is spent: the change is an issue and the target is blocked
    assert [v.reason for v in blocking_issues(store.conn, clock.now_ms(), "app")] == [
        "retry-budget-exhausted"]
    before = state_rows(store)
    [refused] = project.run(store)
    assert refused.status == "blocked" and "bad: FAILED" in refused.details[0]
    assert state_rows(store) == before


def test_max_attempts_option_sets_the_budget(project: Project, clock) -> None:
    project.change("_0001__bad", apply="INSERT INTO nope VALUES (1)")
    store = project.open_store(clock)
    [outcome] = project.run(store, max_attempts=1)
    assert (outcome.apply_state, outcome.attempts, outcome.max_attempts) == ("failed", 1, 1)
    assert audit_states(store, "bad") == ["STARTED", "FAILED"]


def test_a_failed_apply_blocks_until_cancelled(project: Project, clock) -> None:
    project.change("_0001__bad", apply="CREATE TABLE t (id INTEGER);\nINSERT INTO nope VALUES (1);")
    store = project.open_store(clock)
    [first] = project.run(store, max_attempts=2)
    assert first.apply_state == "failed"
    assert project.run(store)[0].status == "blocked"
    from setright.store.applies import cancel_apply

    cancel_apply(store, first.apply_id, Provenance(actor=ACTOR, source="cli", reason="fix"),
                 lock_ttl=60)
    # FAILED (transactional) in a cancelled apply is not an issue: the next run retries it
    (project.root / "changes/app/_0001__bad.yaml").write_text(
        "id: bad\napply: CREATE TABLE t (id INTEGER)\n")
    [second] = project.run(store)
    assert (second.status, second.apply_state) == ("completed", "completed")
    assert second.apply_id != first.apply_id


def test_a_failed_apply_blocks_until_its_change_is_marked(project: Project, clock) -> None:
    project.change("_0001__bad", apply="INSERT INTO nope VALUES (1)")
    project.change("_0002__next", apply="CREATE TABLE n (id INTEGER)")
    store = project.open_store(clock)
    [first] = project.run(store, max_attempts=1)
    assert first.apply_state == "failed"
    with store.write() as tx:
        mark_change(tx, store.audit_table, "bad", "APPLIED", Provenance(actor="ops"),
                    now_ms=clock.now_ms(), execution_id="manual-1")
    [second] = project.run(store)
    assert second.status == "completed"
    assert [t.change_id for t in tasks_of(store.conn, second.apply_id)] == ["next"]


def test_non_transactional_failure_at_second_statement(project: Project, clock) -> None:
    project.change("_0001__base", apply="CREATE TABLE t (id INTEGER)")
    project.change("_0002__loose", transactional=False,
                   apply="INSERT INTO t VALUES (1);\nINSERT INTO nope VALUES (2);\n"
                         "INSERT INTO t VALUES (3);")
    store = project.open_store(clock)
    [outcome] = project.run(store)
    # partial state is possible, so no retry: the apply fails at once
    assert (outcome.apply_state, outcome.attempts) == ("failed", 1)
    assert project.query("SELECT id FROM t") == [(1,)]            # the first statement's effect
    assert project.markers() == [("base", 1), ("loose", 1)]
    ops = operations_of(store.conn, outcome.apply_id, "loose")
    assert [(o.seq, o.state) for o in ops] == [(1, "completed"), (2, "failed"), (3, "pending")]
    row = one(store, "SELECT state, tx_strategy, error_trace FROM setright_audit_log"
              " WHERE change_id = 'loose' ORDER BY id DESC LIMIT 1")
    assert row[:2] == ("FAILED", "NON_TX")
    assert row[2].splitlines()[:2] == [
        "operation 2 of 3 failed: OperationalError: no such table: nope",
        "statement: INSERT INTO nope VALUES (2);"]
    assert [v.reason for v in blocking_issues(store.conn, clock.now_ms(), "app")] == [
        "failed-non-transactional"]


def test_rollback_script_rolls_back_and_resets_operations(project: Project, clock) -> None:
    project.change("_0001__base", apply="CREATE TABLE t (id INTEGER)")
    project.change("_0002__loose", transactional=False,
                   apply="INSERT INTO t VALUES (1);\nINSERT INTO nope VALUES (2);",
                   rollback="DELETE FROM t WHERE id = 1")
    store = project.open_store(clock)
    [outcome] = project.run(store, max_attempts=2)
    assert (outcome.apply_state, outcome.attempts) == ("failed", 2)   # rolled back = retryable
    assert project.query("SELECT id FROM t") == []
    assert project.markers() == [("base", 1)]                          # removed by the rollback
    assert audit_states(store, "loose") == ["STARTED", "FAILED", "ROLLED_BACK"] * 2
    ops = operations_of(store.conn, outcome.apply_id, "loose")
    assert [(o.seq, o.state) for o in ops] == [(1, "pending"), (2, "pending")]
    row = one(store, "SELECT invoked_method, tx_strategy FROM setright_audit_log"
              " WHERE change_id = 'loose' ORDER BY id DESC LIMIT 1")
    assert row == ("rollback", "NON_TX")
    # rolled back on every attempt of a spent budget: an issue (§9.9), the target is blocked
    assert [(v.facts.change_id, v.reason) for v in
            blocking_issues(store.conn, clock.now_ms(), "app")] == [
        ("loose", "retry-budget-exhausted")]


def test_rollback_failure_is_rollback_failed(project: Project, clock) -> None:
    project.change("_0001__base", apply="CREATE TABLE t (id INTEGER)")
    project.change("_0002__loose", transactional=False,
                   apply="INSERT INTO t VALUES (1);\nINSERT INTO nope VALUES (2);",
                   rollback="DELETE FROM gone WHERE id = 1")
    store = project.open_store(clock)
    [outcome] = project.run(store)
    assert (outcome.apply_state, outcome.attempts) == ("failed", 1)
    assert project.query("SELECT id FROM t") == [(1,)]
    assert project.markers() == [("base", 1), ("loose", 1)]           # rollback rolled back
    assert audit_states(store, "loose") == ["STARTED", "FAILED", "ROLLBACK_FAILED"]
    trace = one(store, "SELECT error_trace FROM setright_audit_log WHERE change_id = 'loose'"
                " ORDER BY id DESC LIMIT 1")[0]
    assert "rollback failed" in trace and "no such table: gone" in trace
    ops = operations_of(store.conn, outcome.apply_id, "loose")
    assert [(o.seq, o.state) for o in ops] == [(1, "completed"), (2, "failed")]
    assert [v.reason for v in blocking_issues(store.conn, clock.now_ms(), "app")] == [
        "rollback-failed"]


def test_steps_roll_back_completed_steps_in_reverse(project: Project, clock) -> None:
    project.change("_0001__base", apply="CREATE TABLE log (m TEXT)")
    project.change("_0002__steps", transactional=False, steps=[
        {"apply": "INSERT INTO log VALUES ('s1')", "rollback": "INSERT INTO log VALUES ('u1')"},
        {"apply": "INSERT INTO log VALUES ('s2')", "rollback": "INSERT INTO log VALUES ('u2')"},
        {"apply": "INSERT INTO nope VALUES (3)", "rollback": "INSERT INTO log VALUES ('u3')"},
    ])
    store = project.open_store(clock)
    project.run(store, max_attempts=1)
    assert project.query("SELECT m FROM log ORDER BY rowid") == [
        ("s1",), ("s2",), ("u2",), ("u1",)]
    assert audit_states(store, "steps")[-1] == "ROLLED_BACK"


def test_always_retry_non_transactional_resumes_after_completed_operations(
        project: Project, clock) -> None:
    project.change("_0001__base", apply="CREATE TABLE t (id INTEGER)")
    project.change("_0002__loose", transactional=False, recovery="ALWAYS_RETRY",
                   apply="INSERT INTO t VALUES (1);\nINSERT INTO nope VALUES (2);")
    store = project.open_store(clock)
    [outcome] = project.run(store, max_attempts=3)
    assert (outcome.apply_state, outcome.attempts) == ("failed", 3)
    # operation 1 ran once; each retry started at operation 2
    assert project.query("SELECT id FROM t") == [(1,)]
    assert audit_states(store, "loose") == ["STARTED", "FAILED"] * 3


def test_resume_after_failed_retryable_skips_completed_work(project: Project, clock) -> None:
    project.change("_0001__base", apply="CREATE TABLE t (id INTEGER)")
    project.change("_0002__needs", apply="INSERT INTO later VALUES (1)")
    store = project.open_store(clock)
    commits: list[str] = []
    [first] = project.run(store, max_attempts=5,
                          after_commit=lambda change_id, a, b: commits.append(change_id))
    assert first.attempts == 5
    # put the apply back to failed_retryable (as a redrive would) and fix the cause
    with store.write() as tx:
        tx.execute("UPDATE setright_applies SET state = 'failed_retryable', attempt = 0,"
                   " error = NULL, completed_at = NULL WHERE id = ?", (first.apply_id,))
        tx.execute("UPDATE setright_tasks SET state = 'failed_retryable' WHERE state = 'failed'")
        tx.execute("UPDATE setright_operations SET state = 'failed_retryable'"
                   " WHERE state = 'failed'")
    project.db().executescript("CREATE TABLE later (id INTEGER);")
    [resumed] = project.run(store)
    assert resumed.apply_id == first.apply_id and resumed.status == "completed"
    assert resumed.attempts == 1                                      # a redrive resets it to 0
    assert audit_states(store, "base") == ["STARTED", "APPLIED"]        # not run again
    tasks = {t.change_id: (t.state, t.attempt) for t in tasks_of(store.conn, first.apply_id)}
    assert tasks == {"base": ("completed", 1), "needs": ("completed", 6)}
    assert project.query("SELECT count(*) FROM t") == [(0,)]
    assert commits == ["base"]


def test_change_marked_by_hand_after_planning_is_cancelled(project: Project, clock) -> None:
    project.change("_0001__one", apply="CREATE TABLE one (id INTEGER)")
    project.change("_0002__two", apply="CREATE TABLE two (id INTEGER)")
    store = project.open_store(clock)

    # the hook runs outside any store transaction, as the fault hook does
    def hook(change_id: str, first: int, last: int) -> None:
        if change_id == "one":
            from storehelp import audit

            audit(store, "two", "FAILED", target="app", tx="NON_TX")
            with store.write() as tx:
                mark_change(tx, store.audit_table, "two", "APPLIED", Provenance(actor="ops"),
                            now_ms=clock.now_ms(), execution_id="manual-2")

    [outcome] = project.run(store, after_commit=hook)
    assert outcome.status == "completed"
    tasks = {t.change_id: (t.state, t.error) for t in tasks_of(store.conn, outcome.apply_id)}
    assert tasks["one"] == ("completed", None)
    assert tasks["two"][0] == "cancelled" and tasks["two"][1].startswith(
        "resolved by hand: MANUAL_MARKED_AS_APPLIED")
    assert project.query("SELECT name FROM sqlite_master WHERE name = 'two'") == []
    assert audit_states(store, "two") == ["FAILED", "MANUAL_MARKED_AS_APPLIED"]


def test_a_foreign_row_written_during_the_apply_is_seen_before_the_next_task(
        project: Project, clock) -> None:
    """A runner folds its own rows when the attempt ends; a row another writer appends
    unfolded meanwhile (as Flamingock does) is still folded before the next task begins."""
    project.change("_0001__one", apply="CREATE TABLE one (id INTEGER)")
    project.change("_0002__two", apply="CREATE TABLE two (id INTEGER)")
    project.change("_0003__three", apply="CREATE TABLE three (id INTEGER)")
    store = project.open_store(clock)

    def hook(change_id: str, first: int, last: int) -> None:
        if change_id == "one":
            from storehelp import audit

            audit(store, "two", "MANUAL_MARKED_AS_APPLIED", target="app", at_ms=clock.now_ms(),
                  execution_id="flamingock-fix")

    [outcome] = project.run(store, after_commit=hook)
    assert outcome.status == "completed"
    tasks = {t.change_id: (t.state, t.error) for t in tasks_of(store.conn, outcome.apply_id)}
    assert tasks["one"] == ("completed", None) and tasks["three"] == ("completed", None)
    assert tasks["two"][0] == "cancelled" and tasks["two"][1].startswith(
        "resolved by hand: MANUAL_MARKED_AS_APPLIED")
    assert project.query("SELECT name FROM sqlite_master WHERE name = 'two'") == []
    # every row is folded once the apply is done, the runner's own included
    folded, top = store.conn.execute(
        "SELECT (SELECT value FROM setright_meta WHERE key = 'folded_audit_id'),"
        f" (SELECT max(id) FROM {store.audit_table})").fetchone()
    assert int(folded) == top
    assert dict(store.conn.execute("SELECT change_id, state FROM setright_change_state")) == {
        "one": "APPLIED", "two": "MANUAL_MARKED_AS_APPLIED", "three": "APPLIED"}


def test_edited_applied_change_is_refused_as_drift(project: Project, clock) -> None:
    path = project.change("_0001__create", apply="CREATE TABLE t (id INTEGER)")
    store = project.open_store(clock)
    [first] = project.run(store)
    recorded = tasks_of(store.conn, first.apply_id)[0].checksum
    path.write_text("id: create\napply: CREATE TABLE t (id INTEGER, extra TEXT)\n")
    project.change("_0002__next", apply="CREATE TABLE n (id INTEGER)")
    before = state_rows(store)
    [refused] = project.run(store)
    assert refused.status == "drift" and not refused.ok
    assert "1 applied change file(s) changed" in refused.error
    assert refused.details[0].startswith(
        f"changes/app/_0001__create.yaml: change create was applied with checksum {recorded}, "
        "the file now has c1:")
    assert state_rows(store) == before
    assert project.query("SELECT name FROM sqlite_master WHERE name = 'n'") == []


def test_missing_target_database_is_not_recreated_when_changes_were_applied(
        project: Project, clock) -> None:
    project.change("_0001__create", apply="CREATE TABLE t (id INTEGER)")
    store = project.open_store(clock)
    project.run(store)
    (project.root / "data" / "app.db").unlink()
    [refused] = project.run(store)
    assert refused.status == "error"
    assert "does not exist, but 1 change(s) are recorded as applied" in refused.error
    [check] = refused.details   # where the URL is written
    assert check.startswith("check targets.app.url at ") and check.endswith("setright.yaml:6:10")
    assert not (project.root / "data" / "app.db").exists()


def test_a_target_run_from_another_store_is_refused(project: Project, clock) -> None:
    """A mistyped store URL is a new, empty store; before, a run from it ran every change of
    the target again (an INSERT twice), because nothing compared the target's markers."""
    from setright.store import Store

    project.change("_0001__create", apply="CREATE TABLE pay (v TEXT)")
    project.change("_0002__pay", apply="INSERT INTO pay VALUES ('charge-customer-42')")
    store = project.open_store(clock)
    project.run(store)
    other = Store.open(project.root / ".setright" / "audit.dbb", clock=clock)
    [refused] = project.run(other)
    assert refused.status == "error"
    assert refused.error.startswith("target app was run from another audit store: its newest "
                                    "marker is of apply ap-")
    assert refused.details[0].startswith("check store.url (or SETRIGHT_STORE, --store)")
    assert project.db().execute("SELECT v FROM pay").fetchall() == [("charge-customer-42",)]
    assert other.conn.execute("SELECT count(*) FROM setright_applies").fetchone() == (0,)
    [again] = project.run(store)       # the right store goes on as before
    assert again.status == "up-to-date"


def test_a_change_moved_to_another_targets_folder_is_refused(tmp_path: Path, clock) -> None:
    """Before: looked up by id alone, it counted as done there and never ran (exit 0)."""
    project = Project(tmp_path / "proj", targets=("app", "jobs"))
    first = project.change("_0001__add-accounts", "app",
                           apply="CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
    store = project.open_store(clock)
    project.run(store)
    first.rename(project.root / "changes" / "jobs" / first.name)
    [refused] = project.run(store, targets=["jobs"])
    assert (refused.status, refused.error) == (
        "drift", "target jobs: 1 change file(s) in its folder were run on another target")
    assert refused.details[0] == ("changes/jobs/_0001__add-accounts.yaml: change add-accounts"
                                  " is recorded on target app")


def test_a_renamed_target_keeps_its_applied_changes(tmp_path: Path, clock) -> None:
    """Renaming a target in the configuration is no move: the recorded name is gone."""
    project = Project(tmp_path / "proj", targets=("app",))
    project.change("_0001__add-accounts", "app", apply="CREATE TABLE accounts (id INTEGER)")
    store = project.open_store(clock)
    project.run(store)
    text = project.config_path.read_text()
    project.config_path.write_text(text.replace("  app:", "  main:").replace(
        "changes/app", "changes/main"))
    (project.root / "changes" / "app").rename(project.root / "changes" / "main")
    [outcome] = project.run(store, targets=["main"])
    assert outcome.status == "up-to-date", outcome.error


def test_one_target_failing_does_not_stop_the_next(tmp_path: Path, clock) -> None:
    project = Project(tmp_path / "multi", targets=("a", "b"))
    project.change("_0001__bad", target="a", apply="INSERT INTO nope VALUES (1)")
    project.change("_0001__good", target="b", apply="CREATE TABLE g (id INTEGER)")
    store = project.open_store(clock)
    outcomes = project.run(store, max_attempts=1)
    assert [(o.target, o.status) for o in outcomes] == [("a", "failed"), ("b", "completed")]
    assert project.run(store, targets=["b"])[0].status == "up-to-date"


def test_locked_target_is_refused_with_lock_info(project: Project, clock) -> None:
    from setright.store.locks import Locker

    project.change("_0001__create", apply="CREATE TABLE t (id INTEGER)")
    store = project.open_store(clock)
    Locker(store, owner="other@host:1").acquire("target:app", "run")
    before = state_rows(store)
    [outcome] = project.run(store)
    assert outcome.status == "locked"
    assert "Lock Info:" in outcome.details and "  Who:       other@host:1" in outcome.details
    assert state_rows(store) == before
    assert not (project.root / "data" / "app.db").exists()


def test_plan_json_stays_small_however_large_the_apply(project: Project, clock) -> None:
    """Every lease-fenced update reads the apply row: a plan-sized text column would make
    each read walk its overflow pages (runs became quadratic before this was fixed)."""
    for n in range(1, 201):
        project.change(f"_{n:04d}__c{n}", apply=f"CREATE TABLE t{n} (id INTEGER)")
    store = project.open_store(clock)
    [outcome] = project.run(store)
    apply = get_apply(store.conn, outcome.apply_id)
    plan = json.loads(apply.plan_json)
    assert len(apply.plan_json) < 300
    assert plan["tasks"] == 200 and plan["fingerprint"] == apply.plan_fingerprint
    assert plan["audit_high_water"] == 0          # the log was empty when it was planned


def test_a_target_cannot_be_the_audit_store(project: Project, clock) -> None:
    project.change("_0001__x", apply="CREATE TABLE x (id INTEGER)")
    text = project.config_path.read_text().replace("sqlite:///data/app.db",
                                                   "sqlite:///.setright/audit.db")
    project.config_path.write_text(text)
    store = project.open_store(clock)
    [outcome] = project.run(store)
    assert outcome.status == "error" and "is the audit store itself" in outcome.error
    assert store.conn.execute("SELECT count(*) FROM setright_applies").fetchone() == (0,)
    assert not store.table_exists("setright_markers")


def test_a_retryable_apply_does_not_resume_over_an_edited_file(project: Project, clock) -> None:
    project.change("_0001__bad", apply="INSERT INTO nope VALUES (1)")
    store = project.open_store(clock)
    [first] = project.run(store, max_attempts=1)
    with store.write() as tx:  # as a redrive leaves it
        tx.execute("UPDATE setright_applies SET state = 'failed_retryable', attempt = 0"
                   " WHERE id = ?", (first.apply_id,))
        tx.execute("UPDATE setright_tasks SET state = 'failed_retryable'")
    project.change("_0001__bad", apply="CREATE TABLE nope (id INTEGER)")
    before = state_rows(store)
    [refused] = project.run(store)
    assert refused.status == "drift"
    assert refused.error == f"apply {first.apply_id} cannot resume: its changes differ from the files"
    assert refused.details[0].startswith(
        "changes/app/_0001__bad.yaml: change bad was planned with checksum c1:")
    assert state_rows(store) == before
    # status says so before a run is refused: the same check, and the target is blocked
    status = project.cli("status")
    assert status.exit_code == 0 and status.output.endswith("Blocked: app.\n"), status.output
    assert (f"  drift: changes/app/_0001__bad.yaml: change bad planned in apply "
            f"{first.apply_id} with c1:") in status.output
    assert "1 file(s)" in status.output


def test_a_run_into_a_mistyped_store_refuses_before_creating_it(tmp_path: Path,
                                                                 snapshot) -> None:
    """Before, the empty store file stayed behind after the target was refused."""
    p = Project(tmp_path / "p")
    p.change("_0001__create", apply="CREATE TABLE pay (v TEXT)")
    assert p.cli("run").exit_code == 0
    typo = p.root / ".setright" / "audti.db"
    result = p.cli("--store", f"sqlite:///{typo}", "run")
    assert result.exit_code == 1
    assert not typo.exists()
    assert mask(result.output.replace(str(p.root), "<project>")) == snapshot
    fresh = p.root / "fresh.db"   # a target no runner touched: a new store is made as before
    (p.root / "data" / "app.db").unlink()
    assert p.cli("--store", f"sqlite:///{fresh}", "run").exit_code == 0
    assert fresh.exists()


def test_a_store_url_naming_a_target_database_is_refused_untouched(tmp_path: Path) -> None:
    """Before: `run --store` of a target's file made every setright_* store table in it."""
    p = Project(tmp_path / "p")
    p.change("_0001__create", apply="CREATE TABLE pay (v TEXT)")
    assert p.cli("run").exit_code == 0
    target = p.root / "data" / "app.db"
    tables = p.db().execute("SELECT name FROM sqlite_master ORDER BY name").fetchall()
    result = p.cli("--store", f"sqlite:///{target}", "run")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"Error: {target} is a runner target (it holds setright_markers), not an audit store;"
        " nothing was written")
    assert p.db().execute("SELECT name FROM sqlite_master ORDER BY name").fetchall() == tables
