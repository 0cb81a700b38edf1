"""`setright run`, `applies list|show|cancel` and `status` through the CLI (syrupy snapshots)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runhelp import Project, mask, state_rows
from setright.timeutil import FixedClock
from storehelp import T0


@pytest.fixture
def failed(tmp_path: Path) -> tuple[Project, str]:
    """A project whose first run failed: a transactional change spent its budget of 2."""
    project = Project(tmp_path / "p", max_attempts=2)
    project.change("_0001__create", apply="CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n"
                   "INSERT INTO t (v) VALUES ('seed');", author="alice")
    project.change("_0002__bad", apply="INSERT INTO t (v) VALUES ('x');\n"
                   "INSERT INTO missing VALUES (1);", author="bob")
    result = project.cli("run", clock=FixedClock(T0))
    assert result.exit_code == 1, result.output
    apply_id = json.loads(project.cli("applies", "list", "--json").output)["applies"][0]["id"]
    return project, apply_id


def test_run_output_and_summary(failed, snapshot) -> None:
    project, _ = failed
    project.change("_0003__more", apply="CREATE TABLE more (id INTEGER)")
    blocked = project.cli("run", clock=FixedClock(T0 + 5000))
    assert blocked.exit_code == 1
    assert mask(blocked.output) == snapshot(name="blocked")


def test_first_run_output(tmp_path: Path, snapshot) -> None:
    project = Project(tmp_path / "p", max_attempts=2)
    project.change("_0001__create", apply="CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);")
    project.change("_0002__bad", apply="INSERT INTO missing VALUES (1);")
    result = project.cli("run", clock=FixedClock(T0))
    assert result.exit_code == 1
    assert mask(result.output) == snapshot
    project.change("_0002__bad", apply="INSERT INTO t (v) VALUES ('fixed');")
    # budget spent: still blocked even though the file is fixed (redrive, mark or cancel)
    assert project.cli("run", clock=FixedClock(T0)).exit_code == 1


def test_completed_run_exits_zero(tmp_path: Path, snapshot) -> None:
    project = Project(tmp_path / "p")
    project.change("_0001__create", apply="CREATE TABLE t (id INTEGER)")
    project.change("_0002__fill", transactional=False,
                   apply="INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);")
    result = project.cli("--ascii", "run", clock=FixedClock(T0))
    assert result.exit_code == 0
    assert mask(result.output) == snapshot
    again = project.cli("run", clock=FixedClock(T0))
    assert again.exit_code == 0 and "up-to-date" in again.output


def test_applies_list(failed, snapshot) -> None:
    project, _ = failed
    result = project.cli("applies", "list", clock=FixedClock(T0))
    assert result.exit_code == 0
    assert mask(result.output) == snapshot
    assert project.cli("applies", "list", "--state", "completed").output.strip() == (
        "No applies match the filter.")
    data = json.loads(project.cli("applies", "list", "--json").output)
    [row] = data["applies"]
    assert (row["state"], row["attempt"], row["tasks_completed"], row["tasks_total"]) == (
        "failed", 2, 1, 2)
    assert "plan_json" not in row


def test_applies_show(failed, snapshot) -> None:
    project, apply_id = failed
    result = project.cli("applies", "show", apply_id, clock=FixedClock(T0 + 1000))
    assert result.exit_code == 0
    assert mask(result.output) == snapshot
    data = json.loads(project.cli("applies", "show", apply_id, "--json").output)
    assert [t["state"] for t in data["tasks"]] == ["completed", "failed"]
    assert [(o["change_id"], o["seq"], o["state"]) for o in data["operations"]] == [
        ("create", 1, "completed"), ("create", 2, "completed"), ("bad", 1, "pending"),
        ("bad", 2, "failed")]
    assert data["apply"]["lease_token"] and data["apply"]["attempt"] == 2


def test_applies_show_unknown(failed, snapshot) -> None:
    project, _ = failed
    result = project.cli("applies", "show", "ap-nope'\"ключ")
    assert result.exit_code == 1
    assert result.stderr == snapshot


def test_cancel_needs_a_terminal_or_yes(failed, snapshot) -> None:
    project, apply_id = failed
    store = project.open_store(FixedClock(T0))
    before = state_rows(store)
    result = project.cli("applies", "cancel", apply_id, "--reason", "giving up")
    assert result.exit_code == 1
    assert mask(result.stderr) == snapshot
    assert state_rows(store) == before


@pytest.mark.parametrize("args,option", [
    (["--reason", "bad\x1b[2Jreason"], "--reason"), (["--reason", " "], "--reason"),
    (["--reason", "line\rover"], "--reason")])
def test_cancel_checks_its_reason_as_redrive_does(failed, args, option) -> None:
    project, apply_id = failed
    store = project.open_store(FixedClock(T0))
    before = state_rows(store)
    result = project.cli("applies", "cancel", apply_id, *args, "--yes")
    assert result.exit_code == 1
    last = result.stderr.splitlines()[-1]   # after click's usage lines, as for redrive
    assert last.startswith(f"Error: Invalid value for {option}: "), result.stderr
    assert "\x1b" not in result.stderr and "\r" not in result.stderr
    assert state_rows(store) == before


def test_cancel_unblocks_a_transactional_failure(failed, snapshot) -> None:
    project, apply_id = failed
    status = project.cli("status", clock=FixedClock(T0 + 2000))
    assert mask(status.output) == snapshot(name="status-blocked")
    result = project.cli("applies", "cancel", apply_id, "--reason", "fixing the file", "--yes",
                         clock=FixedClock(T0 + 3000))
    assert result.exit_code == 0
    assert mask(result.output) == snapshot(name="cancelled")
    show = json.loads(project.cli("applies", "show", apply_id, "--json").output)
    assert show["apply"]["state"] == "cancelled"
    assert [t["state"] for t in show["tasks"]] == ["completed", "cancelled"]
    store = project.open_store(FixedClock(T0))
    event = store.conn.execute(
        "SELECT actor, source, reason, old_state FROM setright_events WHERE kind = 'apply'"
        " AND new_state = 'cancelled'").fetchall()
    assert event == [("tester@example.com", "cli", "fixing the file", "failed")]
    status = project.cli("status", clock=FixedClock(T0 + 4000))
    assert mask(status.output) == snapshot(name="status-after-cancel")
    again = project.cli("applies", "cancel", apply_id, "--reason", "twice", "--yes")
    assert again.exit_code == 1 and "only pending, failed_retryable or failed" in again.stderr


def test_cancel_does_not_resolve_partial_state(tmp_path: Path, snapshot) -> None:
    project = Project(tmp_path / "p")
    project.change("_0001__loose", transactional=False,
                   apply="CREATE TABLE t (id INTEGER);\nINSERT INTO missing VALUES (1);")
    project.cli("run", clock=FixedClock(T0))
    apply_id = json.loads(project.cli("applies", "list", "--json").output)["applies"][0]["id"]
    result = project.cli("applies", "cancel", apply_id, "--reason", "r", "--yes",
                         clock=FixedClock(T0))
    assert result.exit_code == 0
    assert mask(result.output) == snapshot
    assert project.cli("run", clock=FixedClock(T0)).exit_code == 1


@pytest.mark.parametrize("answer, code, state", [("yes\n", 0, "cancelled"), ("y\n", 1, "failed"),
                                                ("n\n", 1, "failed")])
def test_cancel_asks_on_a_terminal(failed, monkeypatch, answer, code, state) -> None:
    """Only 'yes' cancels, as for every command that asks before it writes."""
    project, apply_id = failed
    monkeypatch.setattr("setright.cli.confirm.stdin_is_terminal", lambda: True)
    result = project.cli("applies", "cancel", apply_id, "--reason", "r", input=answer)
    assert result.exit_code == code
    assert f"Cancel apply {apply_id} on target app (failed)?" in result.output
    show = json.loads(project.cli("applies", "show", apply_id, "--json").output)
    assert show["apply"]["state"] == state


def test_cancel_refuses_while_the_target_is_locked(failed) -> None:
    from setright.store.locks import Locker

    project, apply_id = failed
    store = project.open_store(FixedClock(T0))
    Locker(store, owner="runner@ci:9").acquire("target:app", "run")
    before = state_rows(store)
    result = project.cli("applies", "cancel", apply_id, "--reason", "r", "--yes",
                         clock=FixedClock(T0))
    assert result.exit_code == 1
    assert "Lock Info:" in result.stderr and "runner@ci:9" in result.stderr
    assert state_rows(store) == before


def test_cancel_requires_a_reason(failed) -> None:
    project, apply_id = failed
    assert project.cli("applies", "cancel", apply_id, "--yes").exit_code == 1
    assert project.cli("applies", "cancel", apply_id, "--reason", " ", "--yes").exit_code == 1


def test_status_reports_drift_and_lock(tmp_path: Path, snapshot) -> None:
    from setright.store.locks import Locker

    project = Project(tmp_path / "p")
    path = project.change("_0001__create", apply="CREATE TABLE t (id INTEGER)")
    project.change("_0002__fill", apply="INSERT INTO t VALUES (1)")
    assert project.cli("run", clock=FixedClock(T0)).exit_code == 0
    path.write_text("id: create\napply: CREATE TABLE t (id INTEGER, v TEXT)\n")
    project.change("_0003__next", apply="INSERT INTO t VALUES (2)")
    store = project.open_store(FixedClock(T0))
    Locker(store, owner="someone@box:7").acquire("target:app", "run")
    result = project.cli("status", clock=FixedClock(T0 + 1000))
    assert result.exit_code == 0
    assert mask(result.output) == snapshot
    data = json.loads(project.cli("status", "--json", clock=FixedClock(T0 + 1000)).output)
    [app] = data["targets"]
    assert app["pending"] == 1 and app["pending_changes"] == ["next"]
    assert app["drift"][0]["change_id"] == "create" and app["lock"]["owner"] == "someone@box:7"
    refused = project.cli("run", clock=FixedClock(T0 + 120_000))
    assert refused.exit_code == 1 and "drift" in refused.output


def test_status_of_a_fresh_project(tmp_path: Path, snapshot) -> None:
    project = Project(tmp_path / "p", targets=("app", "reports"))
    project.change("_0001__create", apply="CREATE TABLE t (id INTEGER)")
    project.open_store(FixedClock(T0)).close()  # as 'setright init' leaves it: readers never create
    result = project.cli("--ascii", "status", clock=FixedClock(T0))
    assert result.exit_code == 0
    assert mask(result.output) == snapshot


def test_run_unknown_target(failed) -> None:
    project, _ = failed
    result = project.cli("run", "-t", "nope")
    assert result.exit_code == 1
    assert "Error: unknown target 'nope'" in result.stderr


def test_redrive_resumes_at_the_failed_operation_and_skips_completed_work(tmp_path: Path) -> None:
    project = Project(tmp_path / "p")
    project.change("_0001__base", apply="CREATE TABLE t (id INTEGER)")
    project.change("_0002__loose", transactional=False,
                   apply="INSERT INTO t VALUES (1);\nINSERT INTO later VALUES (2);\n"
                         "INSERT INTO t VALUES (3);")
    assert project.cli("run").exit_code == 1
    apply_id = json.loads(project.cli("applies", "list", "--json").output)["applies"][0]["id"]
    assert project.cli("run").exit_code == 1                   # blocked: partial state
    project.db().executescript("CREATE TABLE later (id INTEGER);")
    redrive = project.cli("redrive", apply_id, "--reason", "created table later", "--yes")
    assert redrive.exit_code == 0, redrive.output + redrive.stderr
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    assert f"resuming apply {apply_id}" in result.output
    show = json.loads(project.cli("applies", "show", apply_id, "--json").output)
    assert show["apply"]["state"] == "completed" and show["apply"]["attempt"] == 1
    assert [(t["change_id"], t["state"], t["attempt"]) for t in show["tasks"]] == [
        ("base", "completed", 1), ("loose", "completed", 2)]
    # operation 1 committed once, in the first execution; the redrive resumed at operation 2
    assert project.query("SELECT id FROM t ORDER BY rowid") == [(1,), (3,)]
    assert project.query("SELECT id FROM later") == [(2,)]
