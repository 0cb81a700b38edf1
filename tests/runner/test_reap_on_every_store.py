"""A runner killed right after a commit is reaped by the next run on every store backend.

Reaping copies the dead runner's STARTED row to APPLIED and reads that row's
`created_at` as epoch ms. That read used SQLite's `setright_ms` function, which
a server store does not have: on PostgreSQL (and MySQL) the next `run` died with
"internal error: UndefinedFunction: function setright_ms(...)". Found by
`make stress` (kill_run on a PostgreSQL store).
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from runhelp import Project
from serverhelp import store_url  # noqa: F401  (fixture)
from setright.timeutil import FixedClock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")


def test_a_crash_after_commit_is_recovered_as_applied(tmp_path: Path, store_url: str) -> None:  # noqa: F811
    project = Project(tmp_path / "p", store_url=store_url)
    project.change("_0001__base", apply="CREATE TABLE t (v INTEGER PRIMARY KEY);")
    project.change("_0002__tx", apply="INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);")
    crashed = project.spawn("run", fault="crash-after:tx:1")
    crashed.communicate(timeout=120)
    assert crashed.returncode == -signal.SIGKILL
    assert project.markers() == [("base", 1), ("tx", 1), ("tx", 2)]

    past_the_lease = FixedClock(time.time_ns() // 1_000_000 + 120_000)
    result = project.cli("run", clock=past_the_lease)
    assert "internal error" not in result.output, result.output
    assert result.exit_code == 0, result.output
    assert "recovered as APPLIED: 2 of 2 operations committed" in result.output, result.output
    assert project.query("SELECT v FROM t ORDER BY v") == [(1,), (2,)]
    store = project.open_store(past_the_lease)
    try:
        assert store.conn.execute(
            "SELECT state FROM setright_change_state WHERE change_id = 'tx'").fetchone()[0] \
            == "APPLIED"
    finally:
        store.close()
