"""A store with a row in every table, and a dump of any store (SQLite or server) to compare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planhelp import backfill_project, mark
from runhelp import Project
from setright.store import Store
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
    """Every store table's rows in primary-key order (Python values, or canonical text
    when comparing across databases), generated columns left out."""
    impl, q = store.impl, store.impl.quote
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for table, key in store_tables(store.audit_table):
        columns = [c for c in impl.column_kinds(store.conn, table)]
        rows = store.conn.execute(
            f"SELECT {', '.join(q(c) for c in columns)} FROM {q(table)}"
            f" ORDER BY {', '.join(q(k) for k in key)}").fetchall()
        if canonical_values:
            rows = sorted(tuple(canonical(v) for v in row) for row in rows)
        tables[table] = [tuple(row) for row in rows]
    return tables
