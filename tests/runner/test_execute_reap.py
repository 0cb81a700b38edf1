"""Settling an interrupted apply from the target markers (reaper and the runner's own abandon)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runhelp import Project, audit_states, one
from setright.runner.records import ApplyRecorder
from setright.store.applies import get_apply, operations_of, tasks_of
from setright.timeutil import FixedClock
from storehelp import T0


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path / "p")
    p.change("_0001__base", apply="CREATE TABLE t (id INTEGER)")
    return p


def interrupt(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """Make the runner die (Ctrl-C) right where `ApplyRecorder.<method>` would write."""
    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ApplyRecorder, method, boom)


def last_apply(store) -> str:  # type: ignore[no-untyped-def]
    return one(store, "SELECT id FROM setright_applies ORDER BY created_at DESC, id DESC")[0]


def test_interrupted_after_commit_settles_its_own_apply_as_applied(project: Project,
                                                                  monkeypatch) -> None:
    project.change("_0002__tx", apply="INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);")
    store = project.open_store(FixedClock(T0))
    real = ApplyRecorder.task_completed

    def die_on_tx(self, task, change, seqs, millis, next_task=None):  # type: ignore[no-untyped-def]
        if change.id == "tx":
            raise KeyboardInterrupt
        return real(self, task, change, seqs, millis, next_task)

    monkeypatch.setattr(ApplyRecorder, "task_completed", die_on_tx)
    with pytest.raises(KeyboardInterrupt):
        project.run(store)
    apply = get_apply(store.conn, last_apply(store))
    assert (apply.state, apply.error) == ("failed", "runner interrupted: KeyboardInterrupt")
    assert audit_states(store, "tx") == ["STARTED", "APPLIED"]
    meta = json.loads(one(store, "SELECT metadata FROM setright_audit_log WHERE change_id = 'tx'"
                          " AND state = 'APPLIED'")[0])["setright"]
    assert meta["recovered"] == "recovered from target markers: 2 of 2 operations committed"
    assert [o.state for o in operations_of(store.conn, apply.id, "tx")] == ["completed"] * 2
    # the lock was released: the next run goes straight on, nothing pending
    monkeypatch.undo()
    assert project.run(store)[0].status == "up-to-date"
    assert project.query("SELECT id FROM t ORDER BY id") == [(1,), (2,)]


def test_interrupted_after_rollback_commit_is_recorded_rolled_back(project: Project,
                                                                   monkeypatch) -> None:
    project.change("_0002__loose", transactional=False,
                   apply="INSERT INTO t VALUES (1);\nINSERT INTO nope VALUES (2);",
                   rollback="DELETE FROM t")
    store = project.open_store(FixedClock(T0))
    interrupt(monkeypatch, "rollback_finished")
    with pytest.raises(KeyboardInterrupt):
        project.run(store)
    apply_id = last_apply(store)
    # the rollback removed the markers in its own transaction: it committed
    assert audit_states(store, "loose") == ["STARTED", "FAILED", "ROLLED_BACK"]
    assert [o.state for o in operations_of(store.conn, apply_id, "loose")] == ["pending"] * 2
    task = [t for t in tasks_of(store.conn, apply_id) if t.change_id == "loose"][0]
    assert task.state == "failed" and "rollback had committed" in task.error
    assert project.query("SELECT count(*) FROM t") == [(0,)]


def test_interrupted_between_operations_keeps_started_with_exact_counts(
        project: Project, monkeypatch) -> None:
    project.change("_0002__loose", transactional=False,
                   apply="INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\n"
                         "INSERT INTO t VALUES (3);")
    store = project.open_store(FixedClock(T0))
    calls = []
    real = ApplyRecorder.operations_completed

    def die_on_second(self, change_id, seqs):  # type: ignore[no-untyped-def]
        calls.append(list(seqs))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, change_id, seqs)

    monkeypatch.setattr(ApplyRecorder, "operations_completed", die_on_second)
    with pytest.raises(KeyboardInterrupt):
        project.run(store)
    apply_id = last_apply(store)
    assert [o.state for o in operations_of(store.conn, apply_id, "loose")] == [
        "completed", "completed", "pending"]
    assert audit_states(store, "loose") == ["STARTED"]
    assert tasks_of(store.conn, apply_id)[1].error.endswith("2 of 3 operations committed")
    monkeypatch.undo()
    [blocked] = project.run(store)
    assert blocked.status == "blocked"


def test_reaps_a_pending_apply_whose_runner_vanished(project: Project) -> None:
    from storehelp import apply_row, task_row

    store = project.open_store(FixedClock(T0))
    with store.write() as tx:
        apply_row(tx, "ap-LOST", "app", "pending", lease_token="gone",
                  lease_expires_at="2026-11-22T11:59:00.000Z")
        task_row(tx, "ap-LOST", 1, "base", "pending")
    [outcome] = project.run(store)
    assert [(r.apply_id, r.change_id) for r in outcome.reaped] == [("ap-LOST", None)]
    assert outcome.reaped[0].reason == "runner lost: lease expired at 2026-11-22T11:59:00.000Z"
    assert get_apply(store.conn, "ap-LOST").state == "failed"
    # nothing in flight was lost: the change runs in a new apply and the run succeeds
    assert outcome.status == "completed" and outcome.apply_id != "ap-LOST"


def test_a_lock_taken_before_its_lease_expired_is_not_called_an_expiry() -> None:
    from setright.runner.reap import lost_reason

    now = "2026-11-22T12:00:00.000Z"
    assert lost_reason("2026-11-22T11:59:00.000Z", now) == (
        "runner lost: lease expired at 2026-11-22T11:59:00.000Z")
    assert lost_reason("2026-11-22T12:01:00.000Z", now) == (
        "runner lost: its target lock was released before its lease expired "
        "(at 2026-11-22T12:01:00.000Z)")
    assert lost_reason(None, now) == "runner lost: lease expired at an unknown time"
