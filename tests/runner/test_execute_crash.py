"""Crashes, kills, pauses and races with real `python -m setright run` processes.

The config uses `lock: {ttl: 1s}` so a dead runner's lease expires quickly;
every later run is checked against what the target markers say committed.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runhelp import Project, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")

TTL = 1.0
#: a statement that runs for several seconds in SQLite
LONG_STATEMENT = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c"
                  " WHERE x < 300000000) INSERT INTO t SELECT count(*) FROM c")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path / "p", ttl="1s")
    p.change("_0001__base", apply="CREATE TABLE t (id INTEGER)")
    return p






def audit_of(project: Project, change_id: str) -> list[tuple[Any, ...]]:
    return project.store_rows("SELECT state, metadata FROM setright_audit_log"
                      " WHERE change_id = ? ORDER BY id", change_id)


def state_snapshot(project: Project) -> list[Any]:
    tables = ["setright_audit_log", "setright_applies", "setright_tasks", "setright_operations",
              "setright_events"]
    return [project.store_rows(f"SELECT * FROM {t} ORDER BY 1, 2") for t in tables] + [
        project.query("SELECT * FROM t ORDER BY 1"), project.markers()]


def finish(proc: Any, timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def test_crash_after_first_operation_of_non_transactional_change(project: Project) -> None:
    project.change("_0002__loose", transactional=False,
                   apply="INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\n"
                         "INSERT INTO t VALUES (3);")
    code, _, _ = finish(project.spawn("run", fault="crash-after:loose:1"))
    assert code == -signal.SIGKILL
    # the target has operation 1 and its marker; the store never heard of the commit
    assert project.query("SELECT id FROM t") == [(1,)]
    assert project.markers() == [("base", 1), ("loose", 1)]
    assert [s for s, _ in audit_of(project, "loose")] == ["STARTED"]
    assert project.store_rows("SELECT state FROM setright_operations WHERE change_id = 'loose'"
                      " ORDER BY seq") == [("pending",), ("pending",), ("pending",)]
    # while the dead runner's lease lives, the target is locked
    locked = project.cli("run")
    assert locked.exit_code == 1 and "Lock Info:" in locked.output
    time.sleep(TTL + 0.2)
    result = project.cli("run")
    assert result.exit_code == 1
    [(apply_id, state, error)] = project.store_rows("SELECT id, state, error FROM setright_applies")
    assert state == "failed" and error.startswith("runner lost: lease expired at")
    # settled exactly: operation 1 completed, the rest pending, the task failed, STARTED kept
    assert project.store_rows("SELECT seq, state FROM setright_operations WHERE change_id ="
                      " 'loose' ORDER BY seq") == [(1, "completed"), (2, "pending"), (3, "pending")]
    assert project.store_rows("SELECT state, error FROM setright_tasks WHERE change_id = 'loose'"
                      ) == [("failed", error + "; 1 of 3 operations committed")]
    assert [s for s, _ in audit_of(project, "loose")] == ["STARTED"]
    # ... and the target is blocked by the started-never-completed change
    assert "reaped apply" in result.output
    assert "target app is blocked by 1 issue" in result.output
    assert "loose: STARTED (started, never completed)" in result.output
    assert project.query("SELECT id FROM t") == [(1,)]
    assert apply_id in result.output


def test_crash_after_commit_of_transactional_change_recovers_applied(project: Project) -> None:
    project.change("_0002__tx", apply="INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);")
    project.change("_0003__later", apply="INSERT INTO t VALUES (3)")
    code, _, _ = finish(project.spawn("run", fault="crash-after:tx:1"))
    assert code == -signal.SIGKILL
    assert project.query("SELECT id FROM t ORDER BY id") == [(1,), (2,)]
    assert [s for s, _ in audit_of(project, "tx")] == ["STARTED"]
    time.sleep(TTL + 0.2)
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    # the COMMIT landed: recovered as APPLIED from the markers, never executed twice
    audit = audit_of(project, "tx")
    assert [s for s, _ in audit] == ["STARTED", "APPLIED"]
    meta = json.loads(audit[1][1])["setright"]
    assert meta["recovered"] == "recovered from target markers: 2 of 2 operations committed"
    assert meta["reason"].startswith("runner lost: lease expired at")
    assert project.query("SELECT id FROM t ORDER BY id") == [(1,), (2,), (3,)]
    applies = project.store_rows("SELECT state FROM setright_applies ORDER BY created_at, id")
    assert applies == [("failed",), ("completed",)]
    tasks = project.store_rows("SELECT change_id, state FROM setright_tasks ORDER BY rowid")
    assert tasks == [("base", "completed"), ("tx", "completed"), ("later", "pending"),
                     ("later", "completed")]


def test_sigkill_during_a_long_statement_leaves_started_then_is_reaped(project: Project) -> None:
    project.change("_0002__long", transactional=False, apply=LONG_STATEMENT)
    proc = project.spawn("run")
    try:
        wait_for(lambda: [s for s, _ in audit_of(project, "long")] == ["STARTED"])
        first_expiry = project.store_rows("SELECT expires_at FROM setright_locks")[0][0]
        # the lease keeper renews while the statement runs: the lease outlives one ttl
        time.sleep(TTL * 1.5)
        assert proc.poll() is None
        renewed = project.store_rows("SELECT l.expires_at, a.lease_expires_at FROM"
                             " setright_locks l, setright_applies a WHERE a.state = 'running'")
        assert renewed[0][0] > first_expiry and renewed[0][0] == renewed[0][1]
        proc.send_signal(signal.SIGKILL)
        finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert [s for s, _ in audit_of(project, "long")] == ["STARTED"]
    time.sleep(TTL + 0.2)
    result = project.cli("run")
    assert result.exit_code == 1
    assert "runner lost: lease expired at" in result.output
    assert "long: STARTED (started, never completed)" in result.output
    assert project.store_rows("SELECT state FROM setright_tasks WHERE change_id = 'long'") == [
        ("failed",)]
    assert project.query("SELECT count(*) FROM t") == [(0,)]
    assert project.markers() == [("base", 1)]


def paused_then_resumed(project: Project, meanwhile: Callable[[], None]) -> None:
    """Pause a runner after the first of two operations, run `meanwhile`, resume it: having
    lost its lease meanwhile, it must stop and write nothing more."""
    project.change("_0002__loose", transactional=False,
                   apply="INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);")
    proc = project.spawn("run", fault="stop-after:loose:1")
    try:
        wait_for(lambda: _stopped(proc.pid))
        meanwhile()
        before = state_snapshot(project)
        os.kill(proc.pid, signal.SIGCONT)
        code, out, _ = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 1 and "lease-lost" in out, out
    assert state_snapshot(project) == before
    assert project.query("SELECT id FROM t") == [(1,)]


def test_paused_process_taken_over_writes_nothing_after_it_resumes(project: Project) -> None:
    def take_over() -> None:
        time.sleep(TTL + 0.2)
        takeover = project.cli("run")
        assert takeover.exit_code == 1 and "blocked" in takeover.output

    paused_then_resumed(project, take_over)


def test_a_force_released_lock_ends_the_paused_runners_lease(tmp_path: Path) -> None:
    """The lease is the lock: once `lock release --force` deletes it, the change is an issue
    at once (not running until the old expiry), and the runner, resumed, writes nothing."""
    project = Project(tmp_path / "p", ttl="60s")
    project.change("_0001__base", apply="CREATE TABLE t (id INTEGER)")

    def force_release() -> None:
        listed = json.loads(project.cli("issue", "list", "--json").output)
        assert [r["change_id"] for r in listed["running"]] == ["loose"], listed
        [lock] = json.loads(project.cli("lock", "list", "--json").output)["locks"]
        released = project.cli("lock", "release", lock["lock_id"], "--force")
        assert released.exit_code == 0, released.output
        listed = json.loads(project.cli("issue", "list", "--json").output)
        assert listed["running"] == [] and [i["change_id"] for i in listed["issues"]] == [
            "loose"], listed

    paused_then_resumed(project, force_release)


def test_second_runner_on_a_busy_target_exits_with_the_lock_info(project: Project) -> None:
    project.change("_0002__slow", transactional=False,
                   apply=LONG_STATEMENT.replace("300000000", "12000000"))
    first = project.spawn("run")
    try:
        wait_for(lambda: [s for s, _ in audit_of(project, "slow")] == ["STARTED"])
        code, out, _ = finish(project.spawn("run"))
        assert code == 1
        assert "locked" in out and "Lock Info:" in out and "Operation: run" in out
        assert finish(first)[0] == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert project.store_rows("SELECT count(*) FROM setright_applies") == [(1,)]
    assert [s for s, _ in audit_of(project, "slow")] == ["STARTED", "APPLIED"]
    assert project.query("SELECT count(*) FROM t") == [(1,)]


def test_two_runners_started_together_never_run_a_change_twice(project: Project) -> None:
    project.change("_0002__slow", apply=LONG_STATEMENT.replace("300000000", "3000000"))
    results = [finish(p) for p in [project.spawn("run"), project.spawn("run")]]
    codes = sorted(code for code, _, _ in results)
    # one ran it; the other found the lock (exit 1) or, if it came after, nothing to do (0)
    assert codes[0] == 0 and codes[1] in (0, 1)
    assert project.store_rows("SELECT count(*) FROM setright_applies") == [(1,)]
    assert [s for s, _ in audit_of(project, "slow")] == ["STARTED", "APPLIED"]
    assert project.query("SELECT count(*) FROM t") == [(1,)]


def _stopped(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False
