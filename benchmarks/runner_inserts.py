"""Statements per second the runner sustains, beside plain sqlite3 doing the same work.

Builds a project with N change files (default 10,000), each one transactional
one-row INSERT, then measures:

* loading the change files (`load_all`: YAML, schema, splitting, checksums);
* `setright run` on them (`run_targets`: lock, reap, drift check, fresh plan,
  one apply with N tasks, then per change: audit STARTED, the INSERT and its
  marker in one target transaction, then the operation, task and audit
  APPLIED; the lease keeper thread renewing as in production);
* plain `sqlite3` executing the same N statements against a fresh file with
  the same durability: WAL, synchronous=FULL, one COMMIT per statement.

The runner writes durably to two files per change (target and audit store),
so the ratio mostly counts fsyncs. Not a test: run it by hand.

Run: python benchmarks/runner_inserts.py [--changes N]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path


def build_project(root: Path, changes: int) -> list[str]:
    folder = root / "changes" / "bench"
    folder.mkdir(parents=True)
    (root / "setright.yaml").write_text(
        "version: 1\nstore: {url: 'sqlite:///.setright/audit.db'}\n"
        "targets:\n  bench: {url: 'sqlite:///data/bench.db', changes: changes/bench}\n")
    statements = []
    for n in range(1, changes + 1):
        statement = f"INSERT INTO items (id, name) VALUES ({n}, 'item-{n}');"
        statements.append(statement)
        (folder / f"_{n:06d}__insert.yaml").write_text(
            f"id: insert-{n:06d}\nauthor: bench\napply: \"{statement}\"\n")
    (root / "data").mkdir()
    setup = sqlite3.connect(root / "data" / "bench.db")
    setup.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    setup.commit()
    setup.close()
    return statements


def run_setright(root: Path) -> tuple[float, float, int]:
    from setright.config import load_config
    from setright.runner.changes import load_all
    from setright.runner.execute import run_targets
    from setright.store import Store

    config = load_config(root / "setright.yaml")
    started = time.perf_counter()
    changes = load_all(config)
    loaded = time.perf_counter() - started
    store = Store.open(config.store_path, config.audit_table)
    store.refresh()
    started = time.perf_counter()
    [outcome] = run_targets(store, config, changes, ["bench"], actor="bench")
    ran = time.perf_counter() - started
    assert outcome.status == "completed", outcome
    store.close()
    return loaded, ran, outcome.operations_done


def run_plain(path: Path, statements: list[str]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    started = time.perf_counter()
    for statement in statements:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(statement)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure both sides this many times, alternating; report the best")
    args = parser.parse_args()
    n = args.changes
    best_plain = best_run = best_load = float("inf")
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="setright-bench-") as tmp:
            root = Path(tmp) / "project"
            root.mkdir()
            statements = build_project(root, n)
            best_plain = min(best_plain, run_plain(Path(tmp) / "plain.db", statements))
            loaded, ran, done = run_setright(root)
            assert done == n
            best_load, best_run = min(best_load, loaded), min(best_run, ran)
    print(f"{n:,} one-row INSERT changes (transactional, one statement each), "
          f"best of {args.repeat}")
    print(f"  load change files      {best_load:8.2f} s  ({n / best_load:,.0f} files/s)")
    print(f"  setright run           {best_run:8.2f} s  ({n / best_run:,.0f} statements/s)")
    print(f"  plain sqlite3          {best_plain:8.2f} s  ({n / best_plain:,.0f} statements/s)")
    print(f"  runner / plain         {best_run / best_plain:8.1f}x the time")


if __name__ == "__main__":
    main()
