"""kill_run: SIGKILL `setright run` at random points, then check and recover.

Half the trials kill at a fault-injection point (`SETRIGHT_FAULT=crash-after:
CHANGE:K`, right after operation K commits in the target and before the store
hears of it); the other half at a random instant of the run. Then: both files
pass `PRAGMA integrity_check`, markers, target rows and operation rows agree,
and `run` (with a clock past the dead runner's lease), or a redrive and `run`
when the target is blocked by a half-done change, ends with every change
APPLIED, every operation's value in the target exactly once.

The store URL is a parameter of the trial: trials take turns on a SQLite store, a
PostgreSQL store (a fresh schema per trial on the server named by
SETRIGHT_TEST_POSTGRES, default the local one) and a MariaDB/MySQL store (a fresh
database per trial on SETRIGHT_TEST_MYSQL); when a server cannot be reached its
trials are not run and the report says so.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core import Context, rng_for, shown, spawn
from killing import CHANGES, TTL_S, agreement, every_operation, kill_at, kill_project, rows
from killing import store_rows
from killing import timed_full_run, value

MINIMUM = 100


def recover(root: Path) -> tuple[str | None, list[str]]:
    """`run` after the lease expired; a redrive of the failed apply when the target is
    blocked; until the run completes (at most three rounds)."""
    from hostilehelp import _adopt
    from setright.timeutil import FixedClock

    project = _adopt(root)
    clock = FixedClock(time.time_ns() // 1_000_000 + (TTL_S + 5) * 1000)
    log: list[str] = []
    for _ in range(3):
        result = project.cli("run", clock=clock)
        log.append(f"run → {result.exit_code}: {shown(result.output, 800)}")
        if "internal error" in result.output or "Traceback" in result.output:
            return "INTERNAL-OR-TRACEBACK in recovery", log
        if result.exit_code == 0:
            return None, log
        failed = store_rows(root, "SELECT id FROM setright_applies WHERE state = 'failed'"
                                  " ORDER BY created_at DESC, id DESC LIMIT 1")
        if not failed:
            return "RUN-FAILED without a failed apply to redrive", log
        redrive = project.cli("redrive", failed[0][0], "--reason", "stress recovery", "--yes",
                              clock=clock)
        log.append(f"redrive → {redrive.exit_code}: {shown(redrive.output, 800)}")
        if redrive.exit_code != 0:
            return "REDRIVE-REFUSED", log
    return "NOT-RECOVERED after three rounds", log


def finished(root: Path) -> str | None:
    problem = agreement(root)
    if problem:
        return problem
    target = root / "data" / "app.db"
    states = dict(store_rows(root, "SELECT change_id, state FROM setright_change_state"))
    wanted = {c: "APPLIED" for c, _, _ in CHANGES} | {"base": "APPLIED"}
    if states != wanted:
        return f"change states {states}"
    values = sorted(v for (v,) in rows(target, "SELECT v FROM t"))
    if values != sorted(value(c, k) for c, k in every_operation()):
        return f"target rows {values}"
    live = store_rows(root, "SELECT id, state FROM setright_applies WHERE state IN"
                            " ('pending', 'running', 'failed_retryable')")
    return f"non-terminal applies left: {live}" if live else None


def trial(ctx: Context, index: int, store: str, url: str, longest: float,
          turn: int) -> tuple[str | None, dict]:
    """Trial `index`, the store's `turn`-th: even turns kill at a fault point, odd ones at a
    random instant (every other one late in the run)."""
    rng = rng_for(ctx.seed, ctx.name, index)
    root = ctx.work / f"t{index}"
    kill_project(root, url)
    detail: dict[str, Any] = {"case": index, "reproduce": ctx.repro(index), "store": store}
    try:
        if turn % 2 == 0:
            change, _, ops = rng.choice(CHANGES)
            fault = f"crash-after:{change}:{rng.randint(1, ops)}"
            detail["kill"] = f"SETRIGHT_FAULT={fault}"
            proc = spawn(root, "run", SETRIGHT_FAULT=fault)
            proc.communicate(timeout=300)
            detail["exit"] = proc.returncode
        else:
            proc = spawn(root, "run")
            late = (turn // 2) % 2 == 1
            detail["kill"] = f"SIGKILL after {kill_at(proc, rng, longest, late):.3f}s"
        problem = agreement(root)
        if problem:
            return f"AFTER-KILL {problem}", detail
        detail["committed_at_kill"] = len(rows(root / "data" / "app.db", "SELECT v FROM t"))
        problem, detail["recovery"] = recover(root)
        if problem:
            return problem, detail
        problem = finished(root)
        return (f"AFTER-RECOVERY {problem}" if problem else None), detail
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def store_url(store: str, database: str | None = None) -> Iterator[str]:
    """A fresh store URL of that kind: on PostgreSQL a new schema in `database` (one server
    database for the whole category, a schema per trial, which is quicker to make)."""
    from serverhelp import pg_schema, store_database

    if store == "postgresql" and database is not None:
        with pg_schema(database) as url:
            yield url
        return
    with store_database(store) as url:
        yield url


def reachable(store: str) -> str | None:
    """None when that server answers, else why not."""
    try:
        with store_url(store):
            return None
    except BaseException as exc:  # serverhelp skips (or fails under CI) through pytest
        if isinstance(exc, KeyboardInterrupt):
            raise
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def run(ctx: Context) -> None:
    stores = ["sqlite"]
    for server in ("postgresql", "mysql"):
        why_not = reachable(server)
        if why_not:
            ctx.result.notes.append(f"{server}: not run: {why_not}")
        else:
            stores.append(server)
    if "postgresql" not in stores:
        trials(ctx, stores, None)
        return
    with store_url("postgresql") as database:
        trials(ctx, stores, database)


def trials(ctx: Context, stores: list[str], database: str | None) -> None:
    longest = {}
    for store in stores:
        with store_url(store, database) as url:
            probe = ctx.work / "probe"
            kill_project(probe, url)
            longest[store] = timed_full_run(probe, "run") * 1.1
            shutil.rmtree(probe)
    counts = {s: {"trials": 0, "mid_run": 0, "redriven": 0} for s in stores}
    for index in ctx.indexes(MINIMUM):
        store = stores[index % len(stores)]
        with store_url(store, database) as url:
            problem, detail = trial(ctx, index, store, url, longest[store],
                                    index // len(stores))
        count = counts[store]
        count["trials"] += 1
        count["mid_run"] += 0 < detail.get("committed_at_kill", 0) < len(every_operation())
        count["redriven"] += any(s.startswith("redrive") for s in detail.get("recovery", []))
        ctx.result.record(problem, lambda detail=detail: detail)
    for store, count in counts.items():
        ctx.result.notes.append(
            f"{store}: {count['trials']} trials, kills spread over {longest[store]:.1f}s (an"
            f" uninterrupted run here, +10 %); {count['mid_run']} left part of the work"
            f" committed; {count['redriven']} recoveries needed a redrive")
