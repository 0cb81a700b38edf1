"""Five `audit fix` processes on one change: one marks it, and every other one reports the
state the change really had when it decided, read in the transaction that decided.

The losers were told "is not an issue (FAILED …); set expect: FAILED" while the change was
already MANUAL_MARKED_AS_ROLLED_BACK: the preview read its facts in several snapshots, and
the refusal came from facts read outside the transaction that refused.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runhelp import ACTOR, Project
from setright.planner.writes import PAUSE_ENV
from storehelp import T0, write_gate

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX processes")

SATISFIED = "Nothing to do: change 'backfill' is already MANUAL_MARKED_AS_ROLLED_BACK.\n"


def failed_change(root: Path) -> Project:
    project = Project(root, start_ms=T0)
    project.change("_0001__seed", apply="CREATE TABLE t (id INTEGER PRIMARY KEY);")
    project.change("_0002__backfill", transactional=False,
                   apply="INSERT INTO t VALUES (1);\nINSERT INTO nope VALUES (1);")
    ran = project.spawn("run")
    ran.communicate(timeout=60)
    assert ran.returncode == 1
    return project


def audit_states(store: Path) -> list[str]:
    conn = sqlite3.connect(store)
    try:
        return [r[0] for r in conn.execute(
            "SELECT state FROM setright_audit_log WHERE change_id = 'backfill' ORDER BY id")]
    finally:
        conn.close()




def spawn_fix(project: Project) -> subprocess.Popen[str]:
    env = {**os.environ, "SETRIGHT_ACTOR": ACTOR, "NO_COLOR": "1", PAUSE_ENV: "0.05"}
    env.pop("SETRIGHT_FAULT", None)
    return subprocess.Popen(
        [sys.executable, "-m", "setright", "--config", str(project.config_path), "audit", "fix",
         "-c", "backfill", "-r", "ROLLED_BACK", "--reason", "r", "--yes"],
        cwd=project.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_five_concurrent_audit_fix_one_marks_the_rest_report_the_real_state(
        tmp_path: Path) -> None:
    project = failed_change(tmp_path / "p")
    store = project.root / ".setright" / "audit.db"
    assert audit_states(store)[-1] == "FAILED"
    with write_gate(store):
        procs = [spawn_fix(project) for _ in range(5)]
        time.sleep(1.5)  # every process is started and waiting at the gate
    outputs = [p.communicate(timeout=120) for p in procs]
    results = [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]

    done = "Fix complete! backfill is MANUAL_MARKED_AS_ROLLED_BACK.\n"
    marked = [r for r in results if r[1].endswith(done)]
    assert len(marked) == 1, results
    assert marked[0][0] == 0 and "resolution.change[\"backfill\"]: FAILED → " in marked[0][1]
    for code, out, err in (r for r in results if r is not marked[0]):
        # Whether it previewed before or after the winner committed, it ends with the
        # planner's own wording for a satisfied entry, from the state the change had then.
        assert (code, err) == (0, ""), (code, out, err)
        assert out.endswith(SATISFIED), out
        assert "is not an issue" not in out and "expect" not in out, out
    assert audit_states(store)[-2:] == ["FAILED", "MANUAL_MARKED_AS_ROLLED_BACK"]
    assert audit_states(store).count("MANUAL_MARKED_AS_ROLLED_BACK") == 1
