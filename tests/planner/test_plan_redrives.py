"""`setright plan` for redrive entries: accepted only on an exact fresh-plan match (§6.2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planhelp import BACKFILL, backfill_project, actions, failed_apply_id, mark, plan, plan_json, resolution_file
from runhelp import Project, normalise
from setright.store.locks import Locker
from setright.timeutil import FixedClock
from storehelp import T0




@pytest.fixture
def project(tmp_path: Path, clock: FixedClock) -> Project:
    return backfill_project(tmp_path / "proj", clock)


@pytest.fixture
def apply_id(project: Project, clock: FixedClock) -> str:
    store = project.open_store(clock)
    try:
        return failed_apply_id(store)
    finally:
        store.close()


def redrive_file(project: Project, apply_id: str, name: str = "redrive.yaml", **fields) -> Path:
    return resolution_file(project, name, reason="created table fix_me",
                           redrives=[{"apply": apply_id, **fields}])


def outcome(project: Project, clock: FixedClock, apply_id: str) -> tuple[str, list[str]]:
    return actions(project, clock)[f"redrive:{apply_id}"]


def test_redrive_accepted_resumes_at_the_failed_operation(project, clock, apply_id,
                                                          snapshot) -> None:
    redrive_file(project, apply_id, note="fix_me exists now")
    code, out, err = plan(project, clock, "--detailed-exitcode")
    assert (code, err) == (2, "")
    assert out == snapshot
    data = json.loads(project.cli("plan", "--format", "json", clock=clock).stdout)
    [action] = data["actions"]
    assert action["remaining_work"] == [
        {"position": 2, "change_id": "backfill", "task_state": "failed", "operations_total": 3,
         "from_seq": 2, "to_seq": 3, "operations_to_run": 2},
        {"position": 3, "change_id": "add-index", "task_state": "pending", "operations_total": 1,
         "from_seq": 1, "to_seq": 1, "operations_to_run": 1},
    ]
    assert action["completed_work"] == [{"position": 1, "change_id": "seed"}]
    assert [c["change_id"] for c in action["fresh_plan"]["changes"]] == ["backfill", "add-index"]
    assert action["fresh_plan"]["fingerprint"].startswith("dh1:")
    md = project.cli("plan", "--format", "markdown", clock=clock)
    assert normalise(md.stdout) == snapshot


def test_redrive_of_a_spent_transactional_budget(tmp_path: Path, clock) -> None:
    p = Project(tmp_path / "tx", max_attempts=2)
    p.change("_0001__needs-table", apply="INSERT INTO missing VALUES (1);")
    store = p.open_store(clock)
    p.run(store)
    apply_id = failed_apply_id(store)
    store.close()
    redrive_file(p, apply_id)
    result, messages = outcome(p, clock, apply_id)
    assert result == "change"
    assert messages == ["fresh plan matches the remaining work: 1 task(s), 1 operation(s) to run"]


def test_edited_change_file_is_drift(project, clock, apply_id, snapshot) -> None:
    project.change("_0002__backfill", transactional=False,
                   apply=BACKFILL.replace("id = 2", "id >= 2"))
    redrive_file(project, apply_id)
    result, messages = outcome(project, clock, apply_id)
    assert result == "conflict"
    assert messages == [
        "the fresh plan does not match the remaining work (drift):",
        "  operation 3 of change backfill changed: 'UPDATE t SET v = 2 WHERE id = 2;' → "
        "'UPDATE t SET v = 2 WHERE id >= 2;'",
    ]
    assert plan(project, clock)[1] == snapshot


def test_edited_flags_and_added_operations_are_explained(project, clock, apply_id) -> None:
    project.change("_0003__add-index", transactional=False,
                   apply="CREATE INDEX t_v ON t (v);\nANALYZE;")
    redrive_file(project, apply_id)
    assert outcome(project, clock, apply_id)[1][1:] == [
        "  change add-index: transactional changed: true → false",
        "  operation 2 of change add-index was added: 'ANALYZE;'",
    ]


def test_added_change_file_is_drift(project, clock, apply_id) -> None:
    project.change("_0004__backfill-v3", apply="UPDATE t SET v = 3;")
    redrive_file(project, apply_id)
    assert outcome(project, clock, apply_id) == ("conflict", [
        "the fresh plan does not match the remaining work (drift):",
        f"  fresh plan has change backfill-v3 that apply {normalise(apply_id)} never reviewed",
    ])


def test_removed_change_file_is_drift(project, clock, apply_id) -> None:
    (project.root / "changes" / "app" / "_0003__add-index.yaml").unlink()
    redrive_file(project, apply_id)
    assert outcome(project, clock, apply_id)[1][1] == (
        f"  change add-index of apply {normalise(apply_id)} is not in the fresh plan: "
        "its change file was removed")


def test_change_marked_by_hand_since(project, clock, apply_id) -> None:
    mark(project, clock, "backfill", "ROLLED_BACK")
    redrive_file(project, apply_id)
    assert outcome(project, clock, apply_id) == ("conflict", [
        "the fresh plan does not match the remaining work (drift):",
        "  change backfill was marked MANUAL_MARKED_AS_ROLLED_BACK since the apply failed",
    ])


def test_too_old(project, clock, apply_id) -> None:
    clock.advance(86400 + 1)
    redrive_file(project, apply_id)
    result, [message] = outcome(project, clock, apply_id)
    assert result == "conflict"
    assert normalise(message) == (f"apply ap-<1> failed at <time>, more than redrive.max_age "
                                  "ago (redrivable until <time>)")


def test_lock_held_unless_force(project, clock, apply_id) -> None:
    store = project.open_store(clock)
    Locker(store, owner="other@host-9:77").acquire("target:app", "run")
    store.close()
    redrive_file(project, apply_id)
    assert outcome(project, clock, apply_id) == ("conflict", [
        "target:app is locked by <owner> (set force: true to take the lock over)"])
    redrive_file(project, apply_id, force=True)
    assert outcome(project, clock, apply_id)[0] == "change"


def test_cancelled_apply(project, clock, apply_id) -> None:
    assert project.cli("applies", "cancel", apply_id, "--reason", "abandon", "--yes",
                       clock=clock).exit_code == 0
    redrive_file(project, apply_id)
    result, messages = outcome(project, clock, apply_id)
    assert result == "conflict"
    assert messages[0] == (f"apply {normalise(apply_id)} is cancelled; only a failed apply can be "
                           "redriven")


def test_completed_apply(tmp_path: Path, clock) -> None:
    p = Project(tmp_path / "ok")
    p.change("_0001__fine", apply="CREATE TABLE fine (id INTEGER);")
    store = p.open_store(clock)
    [done] = p.run(store)
    store.close()
    redrive_file(p, done.apply_id)
    result, messages = outcome(p, clock, done.apply_id)
    assert result == "conflict"
    assert normalise(messages[0]) == ("apply ap-<1> is completed; only a failed apply can be "
                                      "redriven")


def test_not_latest_and_another_apply_active(project, clock, apply_id) -> None:
    mark(project, clock, "backfill", "APPLIED")
    project.change("_0003__add-index", transactional=False,
                   apply="CREATE INDEX t_v ON t (v);\nCREATE INDEX t_v2 ON t (v);")
    # A real runner process dies mid-change: its apply stays running, its lease live
    # (it runs an hour after this test's fixed clock, whatever today's date).
    project.start_at(T0 + 3_600_000)
    proc = project.spawn("run", fault="crash-after:add-index:1")
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    store = project.open_store(clock)
    [(running,)] = store.conn.execute("SELECT id FROM setright_applies WHERE state = 'running'")
    store.close()
    redrive_file(project, apply_id)
    [action] = plan_json(project, clock)["actions"]
    assert action["outcome"] == "conflict"
    assert action["messages"][:2] == [
        f"apply {apply_id} is not the latest on app: {running} is newer",
        f"apply {running} is running on app",
    ]


def test_rollback_failed_task(tmp_path: Path, clock) -> None:
    p = Project(tmp_path / "rb")
    p.change("_0001__pay", transactional=False,
             apply="CREATE TABLE pay (id INTEGER);\nINSERT INTO nowhere VALUES (1);",
             rollback="DROP TABLE no_such_table;")
    store = p.open_store(clock)
    p.run(store)
    apply_id = failed_apply_id(store)
    store.close()
    redrive_file(p, apply_id)
    result, messages = outcome(p, clock, apply_id)
    assert result == "conflict"
    assert "change 'pay' is ROLLBACK_FAILED: its rollback's partial state needs a human " \
           "(mark it instead)" in messages


def test_unknown_apply(project, clock) -> None:
    redrive_file(project, "ap-NOPE")
    assert outcome(project, clock, "ap-NOPE") == (
        "conflict", ["apply 'ap-NOPE' is not in the audit store"])


def test_redrive_and_a_mark_of_its_change_conflict(project, clock, apply_id, snapshot) -> None:
    redrive_file(project, apply_id, name="a.yaml")
    resolution_file(project, "b.yaml", resolutions=[
        {"change": "backfill", "resolution": "APPLIED"}])
    found = actions(project, clock)
    assert found[f"redrive:{apply_id}"][0] == found["resolution:backfill"][0] == "conflict"
    assert found["resolution:backfill"][1][0] == (
        f"redrive of apply {normalise(apply_id)} in the plan re-runs this change: "
        "resolutions/a.yaml:4")
    assert plan(project, clock)[1] == snapshot
