"""What kill_run and kill_apply share: the project, the kill, the store and target checks.

Each change `cN` inserts the values N*10+k (k = its operation) into `t`, whose
primary key refuses a value twice, so the target's rows say exactly which
operations committed, and how often.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

from core import integrity, spawn

#: (change id, transactional, operations)
CHANGES = [("c1", True, 2), ("c2", False, 3), ("c3", True, 1), ("c4", False, 2), ("c5", True, 3),
           ("c6", False, 1)]
TTL_S = 60


def value(change: str, seq: int) -> int:
    return int(change[1:]) * 10 + seq


def every_operation() -> set[tuple[str, int]]:
    return {(c, k) for c, _, n in CHANGES for k in range(1, n + 1)}


def kill_project(root: Path, store_url: str = "sqlite:///.setright/audit.db") -> Any:
    """The project before any run: config (store at `store_url`), base and c1..c6."""
    import yaml

    from runhelp import Project

    project = Project(root, ttl=f"{TTL_S}s")
    config = yaml.safe_load(project.config_path.read_text())
    config["store"]["url"] = store_url
    project.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    project.change("_0000__base", apply="CREATE TABLE t (v INTEGER PRIMARY KEY);")
    for n, (change, transactional, ops) in enumerate(CHANGES, start=1):
        sql = "\n".join(f"INSERT INTO t VALUES ({value(change, k)});" for k in range(1, ops + 1))
        project.change(f"_{n:04d}__{change}", transactional=transactional, apply=sql)
    return project


def store_rows(root: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows from the project's store, whichever database the config names; none yet = []."""
    import yaml

    url = yaml.safe_load((root / "setright.yaml").read_text())["store"]["url"]
    if url.startswith("sqlite:///"):
        return rows(root / url[len("sqlite:///"):], sql)
    if url.startswith(("mysql://", "mariadb://")):
        return _mysql_rows(url, sql)
    import psycopg

    with psycopg.connect(url, connect_timeout=10) as conn:
        try:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
        except psycopg.errors.UndefinedTable:
            return []


def _mysql_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    import pymysql

    from setright.db import parse_url
    from setright.db.mysql import MysqlImpl

    conn = MysqlImpl().connect(parse_url(url, Path(".")))
    try:
        return [tuple(r) for r in conn.execute(sql).fetchall()]
    except pymysql.err.ProgrammingError as exc:
        if exc.args and exc.args[0] == 1146:  # no such table
            return []
        raise
    finally:
        conn.close()


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def agreement(root: Path) -> str | None:
    """Integrity of the SQLite files (a server store keeps its own), and markers, target rows
    and operation rows agreeing."""
    store, target = root / ".setright" / "audit.db", root / "data" / "app.db"
    for path in (store, target):
        problem = integrity(path)
        if problem:
            return problem
    markers = rows(target, "SELECT apply_id, change_id, seq FROM setright_markers")
    marked = {(c, k) for _, c, k in markers if c != "base"}
    if len(markers) != len(set(markers)):
        return f"a marker twice: {sorted(markers)}"
    values = {v for (v,) in rows(target, "SELECT v FROM t")}
    if values != {value(c, k) for c, k in marked}:
        return f"target rows {sorted(values)} disagree with markers {sorted(marked)}"
    completed = set(store_rows(root, "SELECT apply_id, change_id, seq FROM setright_operations"
                                     " WHERE state = 'completed'"))
    if not completed <= set(markers):
        return f"operations completed without a marker: {sorted(completed - set(markers))}"
    return None


def kill_at(proc: Any, rng: random.Random, longest: float, late: bool = False) -> float:
    """SIGKILL `proc` after a random delay up to `longest` seconds (if still alive); `late`
    picks from the second half, past the start-up most kills would otherwise land in."""
    delay = rng.uniform(longest / 2 if late else 0.0, longest)
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return delay


def timed_full_run(root: Path, *args: str, **env: str) -> float:
    """How long an uninterrupted process takes here, now (to spread kill delays over it)."""
    start = time.monotonic()
    proc = spawn(root, *args, **env)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    return time.monotonic() - start
