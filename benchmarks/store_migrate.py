"""How long `store migrate` takes for a large store, beside a raw copy of the same rows.

Builds a SQLite store with N audit rows (default 1,000,000: 100,000 changes with 10
rows each, folded), then measures:

* `migrate_store` into a new SQLite file (or into `--to URL`, an empty store on a
  server): keyset pages, batched INSERTs, the read-back and both digests;
* the floor: `INSERT INTO … SELECT *` of the audit log into an attached empty SQLite
  file (no paging, no fitting, no verification: what SQLite alone needs to move it).

Run: python benchmarks/store_migrate.py [--rows N] [--to URL]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

T0 = 1_795_348_800_000


def build(path: Path, rows: int) -> None:
    from setright.store import Store

    store = Store.open(path)
    per_change = 10
    with store.write() as tx:
        batch = []
        for c in range(rows // per_change):
            for r in range(per_change):
                state = "APPLIED" if r == per_change - 1 else ("STARTED" if r % 2 == 0
                                                              else "FAILED")
                batch.append((f"exec-{c}-{r}", f"change-{c:06d}", "bench", T0 + c * 20 + r,
                              state, "NON_TX", "user-db", "MANUAL_INTERVENTION",
                              "boom" if state == "FAILED" else None, '{"k": 1}'))
            if len(batch) >= 50_000:
                tx.executemany(
                    "INSERT INTO setright_audit_log (execution_id, change_id, author,"
                    " created_at, state, tx_strategy, target_system_id, recovery_strategy,"
                    " error_trace, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
                batch.clear()
    store.refresh()
    store.close()


def floor(source: Path, folder: Path) -> float:
    """Seconds for SQLite alone to copy the audit log into an empty file."""
    target = folder / "floor.db"
    sqlite3.connect(target).close()
    conn = sqlite3.connect(source, isolation_level=None)
    started = time.perf_counter()
    conn.execute(f"ATTACH DATABASE '{target}' AS dst")
    ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'setright_audit_log'"
                       ).fetchone()[0]
    conn.execute("BEGIN")
    conn.execute(ddl.replace("CREATE TABLE ", "CREATE TABLE dst.", 1))
    conn.execute("INSERT INTO dst.setright_audit_log SELECT * FROM main.setright_audit_log")
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--to", help="an empty store URL (default: a new SQLite file)")
    args = parser.parse_args(argv)
    from setright.db import parse_url
    from setright.store import Store
    from setright.store.migrate import migrate_store

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source_path = folder / "source.db"
        started = time.perf_counter()
        build(source_path, args.rows)
        print(f"built {args.rows} audit rows in {time.perf_counter() - started:.1f}s")
        destination = parse_url(args.to or f"sqlite:///{folder / 'moved.db'}", folder)
        source = Store.open(source_path)
        started = time.perf_counter()
        result = migrate_store(source, destination)
        elapsed = time.perf_counter() - started
        source.close()
        copied = sum(t.rows for t in result.tables)
        print(f"store migrate to {destination.shown}: {copied} rows in {elapsed:.1f}s "
              f"({copied / elapsed:,.0f} rows/s, copy and verification)")
        print(f"floor (SQLite INSERT … SELECT of the audit log): {floor(source_path, folder):.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
