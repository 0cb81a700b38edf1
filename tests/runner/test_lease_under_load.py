"""A healthy runner keeps its lease, with real processes on a busy machine.

Four `setright run` race for one target (`lock.ttl: 2s`) while busy-loop
processes keep every core busy: whoever holds the target must renew its lease
in time, through slow statements and a steady stream of store writes, and the
others wait their turn. A lease is lost only when its holder really stopped
renewing; none does here, so no runner may report `lease-lost`, there is never
more than one live apply, and every change ends applied.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runhelp import Project

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX processes")

RUNNERS = 4
SMALL = 200
#: about a second of SQLite work on an idle core, longer on a busy one
SLOW = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500000)"
        " INSERT INTO t SELECT count(*) FROM c")
DEADLINE_S = 25.0




@pytest.fixture
def busy_cores() -> object:
    """One busy-loop process per core (at least two), for the whole test."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(max(2, os.cpu_count() or 2))]
    yield hogs
    for hog in hogs:
        hog.kill()
        hog.wait()


def test_racing_runners_on_busy_cores_never_lose_a_live_lease(tmp_path: Path,
                                                               busy_cores: object) -> None:
    p = Project(tmp_path / "p", ttl="2s")
    p.change("_0000__base", apply="CREATE TABLE t (id INTEGER)")
    for i in range(1, SMALL + 1):
        if i % 50 == 0:
            p.change(f"_{i:04d}__slow{i}", transactional=False,
                     apply=f"INSERT INTO t VALUES ({i});\n{SLOW};\nINSERT INTO t VALUES ({i});")
        else:
            p.change(f"_{i:04d}__c{i}", transactional=i % 2 == 0,
                     apply=f"INSERT INTO t VALUES ({i});\nINSERT INTO t VALUES ({i});")
    total = SMALL + 1
    outputs: list[tuple[int, str, str]] = []
    most_live = 0
    deadline = time.monotonic() + DEADLINE_S
    runners = [p.spawn("run") for _ in range(RUNNERS)]
    done = False
    while runners:
        for runner in list(runners):
            if runner.poll() is None:
                continue
            out, err = runner.communicate()
            outputs.append((runner.returncode, out, err))
            runners.remove(runner)
            # the race goes on until one runner finds nothing left to do
            done = done or "up to date" in out or "completed or up to date" in out
            if not done and time.monotonic() < deadline:
                runners.append(p.spawn("run"))
        live = p.store_rows("SELECT count(*) FROM setright_applies WHERE state IN"
                             " ('pending', 'running', 'failed_retryable')")
        most_live = max(most_live, live[0][0] if live else 0)
        time.sleep(0.02)
    lost = [out for _, out, _ in outputs if "lease-lost" in out]
    assert not lost, lost[0]
    assert [err for _, _, err in outputs if err.strip()] == []
    assert most_live <= 1
    applied = p.store_rows("SELECT count(*) FROM setright_change_state WHERE state = 'APPLIED'")
    assert applied == [(total,)], [o for _, o, _ in outputs if "locked" not in o][-1:]
    assert p.store_rows("SELECT state, count(*) FROM setright_applies GROUP BY state") == [
        ("completed", 1)]
