"""`issue get/list` on a runner that died mid-change, before any run reaped its apply (§5.2 step 1).

The store still says the task is running with no operation committed; the
target markers say what really committed. Diagnosis must follow the markers,
read-only, without reaping, writing or creating anything.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from runhelp import Project, normalise
from setright.timeutil import FixedClock, ms_from_any
from storehelp import T0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a killed process")


def crashed_project(root: Path) -> Project:
    """A NON_TX change of 2 operations whose runner killed itself right after operation 1."""
    p = Project(root, ttl="1s", start_ms=T0)
    p.change("_0001__sync", transactional=False,
             apply="CREATE TABLE profiles (id INTEGER);\nINSERT INTO profiles VALUES (1);")
    crashed = p.spawn("run", fault="crash-after:sync:1")
    crashed.communicate(timeout=60)
    assert crashed.returncode != 0
    return p


def target_bytes(p: Project) -> dict[str, bytes]:
    """Every byte of the target database and its write-ahead log (the -shm index is shared
    memory that readers write into, so it is not compared)."""
    files = [p.root / "data" / "app.db", p.root / "data" / "app.db-wal"]
    return {f.name: f.read_bytes() for f in files if f.exists()}


def test_issue_get_settles_an_unreaped_task_from_the_target_markers(tmp_path: Path,
                                                                     snapshot) -> None:
    p = crashed_project(tmp_path / "p")
    before = target_bytes(p)
    clock = FixedClock(p.now_ms() + 5_000)  # the dead runner's lease (ttl 1s) has expired
    result = p.cli("issue", "get", "-c", "sync", clock=clock)
    assert result.exit_code == 0, result.output
    out = normalise(result.output)
    assert "Operations:    1 of 2 operations committed" in out
    assert "Partial state: yes: 1 of 2 operations committed in app" in out
    assert "operation 2 (running): INSERT INTO profiles VALUES (1);" in out
    assert "none of its" not in out
    assert out == snapshot
    data = json.loads(p.cli("issue", "get", "-c", "sync", "--json", clock=clock).stdout)
    assert (data["state"], data["reason"], data["apply_state"], data["task_state"]) == (
        "STARTED", "started-never-completed", "running", "running")
    assert (data["operations_completed"], data["operations_total"],
            data["current_operation"], data["partial_state_possible"]) == (1, 2, 2, True)
    listed = json.loads(p.cli("issue", "list", "--json", clock=clock).stdout)["issues"]
    assert [(i["change_id"], i["operations_completed"]) for i in listed] == [("sync", 1)]
    # nothing was reaped or written: the facts came from reading the target
    assert target_bytes(p) == before
    again = json.loads(p.cli("issue", "get", "-c", "sync", "--json", clock=clock).stdout)
    assert (again["apply_state"], again["task_state"]) == ("running", "running")
    assert p.markers() == [("sync", 1)]


def test_reaping_later_agrees_with_what_issue_get_said(tmp_path: Path) -> None:
    p = crashed_project(tmp_path / "p")
    clock = FixedClock(p.now_ms() + 5_000)
    said = json.loads(p.cli("issue", "get", "-c", "sync", "--json", clock=clock).stdout)
    expiry = ms_from_any(said["lease_expires_at"])
    assert expiry is not None
    while p.now_ms() <= expiry:  # the dead runner's lease must really have expired
        time.sleep(0.05)
    p.spawn("run").communicate(timeout=60)  # reaps the lost apply: the target is then blocked
    now = json.loads(p.cli("issue", "get", "-c", "sync", "--json",
                           clock=FixedClock(p.now_ms() + 5_000)).stdout)
    assert now["apply_state"] == "failed" and now["task_state"] == "failed"
    assert [now[k] for k in ("operations_completed", "current_operation",
                             "partial_state_possible")] == [
        said[k] for k in ("operations_completed", "current_operation",
                          "partial_state_possible")] == [1, 2, True]


def test_a_missing_target_file_is_not_created_by_issue_get(tmp_path: Path) -> None:
    p = crashed_project(tmp_path / "p")
    for f in (p.root / "data").iterdir():
        f.unlink()
    clock = FixedClock(p.now_ms() + 5_000)
    data = json.loads(p.cli("issue", "get", "-c", "sync", "--json", clock=clock).stdout)
    assert data["operations_completed"] == 0  # no file, no marker
    assert list((p.root / "data").iterdir()) == []


def test_a_target_it_cannot_read_is_never_reported_as_settled(tmp_path: Path,
                                                              snapshot) -> None:
    """Before: the store's rows (which lag the target by the operation in flight) were shown
    as "settled by the target markers", and a moved target file as "none committed". A
    target locked by another process (busy timeout) or unreachable takes the same path."""
    p = crashed_project(tmp_path / "p")
    clock = FixedClock(p.now_ms() + 5_000)
    target = p.root / "data" / "app.db"
    target.rename(target.with_suffix(".moved"))
    result = p.cli("issue", "get", "-c", "sync", clock=clock)
    assert result.exit_code == 0, result.output
    out = normalise(result.output)
    assert "settled by the target markers" not in out and "from the target markers" not in out
    assert out == snapshot
