"""A store with a row in every table, and a dump of any store (SQLite or server) to compare."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from planhelp import backfill_project, mark
from runhelp import Project
from setright.store import Store, schema
from setright.store.copy_values import canonical
from setright.store.ledger import LedgerRow, record_ledger_entry
from setright.store.locks import Locker
from setright.store.migrate import store_tables
from setright.timeutil import FixedClock


def filled_project(root: Path, clock: FixedClock) -> Project:
    """A failed apply (applies, tasks, operations, events, audit rows), a manual mark, a live
    lock, two ledger rows and the folded change-state cache: every table holds rows."""
    project = backfill_project(root, clock)
    mark(project, clock, "seed", "APPLIED")
    store = project.open_store(clock)
    try:
        Locker(store, ttl=600, owner="ops@laptop:7").acquire("setright:apply", "apply")
        with store.write() as tx:
            for key in ("resolution:seed", "resolution:it's \"ü\""):
                record_ledger_entry(tx, LedgerRow(
                    "resolutions/a.yaml", key, "sha256:aa", "change", "pl-1", "c0ffee",
                    "jane@example.com", "2026-11-20T10:00:00.000Z", "#12"))
    finally:
        store.close()
    return project


def dump(store: Store, *, canonical_values: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Every store table's rows in primary-key order (see `dump_tables`)."""
    return dump_tables(store.conn, store.impl, store.audit_table,
                       canonical_values=canonical_values)


def dump_tables(conn: Any, impl: Any, audit_table: str, *, canonical_values: bool = False,
                timezone: str = "UTC") -> dict[str, list[tuple[Any, ...]]]:
    """Every store table's rows in primary-key order as Python values, generated columns left
    out; with `canonical_values`, as sorted canonical text (to compare across databases)."""
    q = impl.quote
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for table, key in store_tables(audit_table):
        columns = list(impl.column_kinds(conn, table))
        rows = conn.execute(
            f"SELECT {', '.join(q(c) for c in columns)} FROM {q(table)}"
            f" ORDER BY {', '.join(q(k) for k in key)}").fetchall()
        if canonical_values:
            rows = sorted(tuple(canonical(v, timezone) for v in row) for row in rows)
        tables[table] = [tuple(row) for row in rows]
    return tables


def build_server_schema(conn: Any, impl: Any, audit_ddl: str) -> None:
    """setright's tables at the current schema version, built through the impl's DDL hooks,
    and an audit table from `audit_ddl` (the destination of a migrate on a server)."""
    conn.execute(audit_ddl)
    for name, (columns, pk, not_null) in schema.TABLES.items():
        impl.create_table(conn, name, columns, pk, not_null, schema.AUTOINCREMENT.get(name))
    conn.execute("ALTER TABLE setright_ledger ADD COLUMN pull_request TEXT")
    impl.create_one_active_index(conn, "setright_applies_one_active_idx", "setright_applies",
                                 "target", "state", schema.NON_TERMINAL_APPLY_STATES)


_KILLED_MID_COPY = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from setright.db import parse_url
    from setright.store import Store
    from setright.store.migrate import migrate_store

    def die(table, done, total):
        if done >= 3000:
            print("killing", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    migrate_store(Store.open(Path(sys.argv[1])), parse_url(sys.argv[2], Path.cwd()),
                  batch_rows=1000, progress=die)
""")


def kill_mid_copy(source: Path, destination: str) -> None:
    """Run a migrate of the SQLite store `source` to `destination` in a real process that
    SIGKILLs itself once 3,000 rows of the audit log are in the destination's transaction."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", _KILLED_MID_COPY, str(source), destination],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout == "killing\n"


def big_store(path: Path, clock: FixedClock, rows: int = 10_000) -> Store:
    """A SQLite store whose audit log holds `rows` applied changes (folded)."""
    store = Store.open(path, clock=clock)
    with store.write() as tx:
        tx.executemany("INSERT INTO setright_audit_log (change_id, state, created_at)"
                       " VALUES (?, 'APPLIED', ?)",
                       [(f"c{i}", 1_795_348_800_000 + i) for i in range(rows)])
    store.refresh()
    return store
