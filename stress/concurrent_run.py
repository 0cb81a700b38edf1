"""concurrent_run: 4 runners on one target, both cores busy, `lock.ttl: 2s`.

Busy-loop processes keep every core busy while four `setright run` processes
race for one target whose changes include slow statements; a runner that
exits while work is left is replaced. Promises: never two non-terminal
applies (sampled throughout), no runner reports `lease-lost` (each holder was
healthy, so its keeper must renew in time), nothing on stderr, and every trial
ends with every change APPLIED by one completed apply. It runs alone: it loads
every core on purpose.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core import Context, rng_for, shown, spawn
from killing import rows

MINIMUM = 20
RUNNERS = 4
DEADLINE_S = 90.0
#: about a second of SQLite work on an idle core, longer on a busy one
SLOW = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000)"
        " INSERT INTO t SELECT count(*) FROM c")
LIVE = ("SELECT count(*) FROM setright_applies WHERE state IN"
        " ('pending', 'running', 'failed_retryable')")


def project(root: Path, changes: int, slow_every: int) -> int:
    from runhelp import Project

    p = Project(root, ttl="2s")
    p.change("_0000__base", apply="CREATE TABLE t (id INTEGER)")
    for i in range(1, changes + 1):
        if i % slow_every == 0:
            p.change(f"_{i:04d}__slow{i}", transactional=False,
                     apply=f"INSERT INTO t VALUES ({i});\n{SLOW};\nINSERT INTO t VALUES ({i});")
        else:
            p.change(f"_{i:04d}__c{i}", transactional=i % 2 == 0,
                     apply=f"INSERT INTO t VALUES ({i});\nINSERT INTO t VALUES ({i});")
    return changes + 1


def trial(root: Path, total: int) -> tuple[str | None, dict[str, Any]]:
    store = root / ".setright" / "audit.db"
    outputs: list[tuple[int, str, str]] = []
    most_live, spawned, done = 0, RUNNERS, False
    deadline = time.monotonic() + DEADLINE_S
    runners = [spawn(root, "run") for _ in range(RUNNERS)]
    while runners:
        for runner in list(runners):
            if runner.poll() is None:
                continue
            out, err = runner.communicate()
            outputs.append((runner.returncode, out, err))
            runners.remove(runner)
            done = done or "up to date" in out or "completed or up to date" in out
            if not done and time.monotonic() < deadline:
                runners.append(spawn(root, "run"))
                spawned += 1
        live = rows(store, LIVE)
        most_live = max(most_live, live[0][0] if live else 0)
        time.sleep(0.02)
    applied = rows(store, "SELECT count(*) FROM setright_change_state WHERE state = 'APPLIED'")
    applies = rows(store, "SELECT state, count(*) FROM setright_applies GROUP BY state")
    detail = {"runners_started": spawned, "most_live_applies": most_live,
              "applied": applied, "applies": applies}
    lost = [out for _, out, _ in outputs if "lease-lost" in out]
    stderr = [err for _, _, err in outputs if err.strip()]
    if lost:
        return "LEASE-LOST", {**detail, "output": shown(lost[0], 1500)}
    if stderr:
        return "STDERR", {**detail, "stderr": shown(stderr[0], 1500)}
    if most_live > 1:
        return "TWO-LIVE-APPLIES", detail
    if applied != [(total,)] or applies != [("completed", 1)]:
        last = [o for _, o, _ in outputs if "locked" not in o][-1:]
        return "NOT-ALL-APPLIED", {**detail, "output": shown(last[0] if last else "", 1500)}
    return None, detail


@contextmanager
def busy_cores() -> Iterator[int]:
    """One busy-loop process per core (at least two) while the block runs; yields how many."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(max(2, os.cpu_count() or 2))]
    try:
        yield len(hogs)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def run(ctx: Context) -> None:
    with busy_cores() as hogs:
        for index in ctx.indexes(MINIMUM):
            rng = rng_for(ctx.seed, ctx.name, index)
            changes, slow_every = rng.choice([20, 30, 40]), rng.choice([10, 15, 20])
            root = ctx.work / f"t{index}"
            total = project(root, changes, slow_every)
            problem, detail = trial(root, total)
            detail = {"case": index, "reproduce": ctx.repro(index), "changes": changes,
                      "slow_every": slow_every, **detail}
            ctx.result.record(problem, lambda detail=detail: detail)
            shutil.rmtree(root, ignore_errors=True)
    ctx.result.notes.append(f"{RUNNERS} runners per trial, {hogs} busy-loop processes,"
                            " ttl 2s")
