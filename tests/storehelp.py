"""Test helpers that write store rows directly, for rules that need exact setups."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from setright.store import Store
from setright.store.audit import append_audit_row

T0 = 1_795_348_800_000  # the conftest clock's start


def audit(store: Store, change_id: str, state: str, *, at_ms: int | None = None,
          target: str = "user-db", tx: str = "NON_TX", recovery: str = "MANUAL_INTERVENTION",
          execution_id: str | None = None, error: str | None = None,
          raw_created_at: Any = None, audit_id: int | None = None) -> int:
    """Append an audit row. With `raw_created_at`, bypass setright's clock rule (another writer);
    `audit_id` (with `at_ms` or `raw_created_at`): the row's id, as a hand-made INSERT gives it."""
    row = {**({"id": audit_id} if audit_id is not None else {}), "change_id": change_id, "state": state, "target_system_id": target,
           "tx_strategy": tx, "recovery_strategy": recovery, "execution_id": execution_id,
           "author": "tester", "error_trace": error, "metadata": json.dumps({"k": 1})}
    if raw_created_at is not None or at_ms is not None:
        impl = store.impl
        if raw_created_at is not None:
            row["created_at"] = raw_created_at
        else:   # at_ms in the table's own type (a server's TIMESTAMP, say)
            row = impl.audit_write_values(store.conn, store.audit_table, row, int(at_ms or 0))
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        return impl.insert_returning_id(
            store.conn, f"INSERT INTO {impl.quote(store.audit_table)} ({columns}) VALUES ({marks})",
            list(row.values()))
    with store.write() as conn:
        return append_audit_row(conn, store.audit_table, row, now_ms=store.now_ms())


def apply_row(conn: sqlite3.Connection, apply_id: str, target: str, state: str, *,
              lease_token: str | None = None, lease_expires_at: str | None = None) -> None:
    conn.execute(
        "INSERT INTO setright_applies (id, target, state, attempt, max_attempts, created_at,"
        " lease_token, lease_expires_at) VALUES (?, ?, ?, 1, 3, '2026-11-22T12:00:00.000Z', ?, ?)",
        (apply_id, target, state, lease_token, lease_expires_at),
    )


def task_row(conn: sqlite3.Connection, apply_id: str, position: int, change_id: str,
             state: str) -> None:
    conn.execute(
        "INSERT INTO setright_tasks (apply_id, position, change_id, state, attempt)"
        " VALUES (?, ?, ?, ?, 1)", (apply_id, position, change_id, state))


def op_row(conn: sqlite3.Connection, apply_id: str, change_id: str, seq: int, state: str) -> None:
    conn.execute(
        "INSERT INTO setright_operations (apply_id, change_id, seq, statement, hash, state)"
        " VALUES (?, ?, ?, 'SELECT 1', 'h1:x', ?)", (apply_id, change_id, seq, state))


def state_tables(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """A snapshot of every state table, to prove a refused command wrote nothing."""
    tables = [store.audit_table, "setright_applies", "setright_tasks", "setright_operations",
              "setright_events", "setright_ledger"]
    return {t: [tuple(r) for r in store.conn.execute(
        f"SELECT * FROM {store.impl.quote(t)} ORDER BY 1, 2").fetchall()] for t in tables}


# Flamingock's own SQLite DDL for its audit log and lock tables.
FLAMINGOCK_DDL = """
CREATE TABLE flamingockAuditLog (
  id INTEGER PRIMARY KEY, execution_id TEXT, stage_id TEXT, change_id TEXT, author TEXT,
  created_at DATETIME, state TEXT, invoked_class TEXT, invoked_method TEXT, source_file TEXT,
  metadata TEXT, execution_millis INTEGER, execution_hostname TEXT, error_trace TEXT,
  type TEXT, tx_strategy TEXT, target_system_id TEXT, change_order TEXT,
  recovery_strategy TEXT, transaction_flag INTEGER, system_change INTEGER
);
CREATE TABLE flamingockLock (key TEXT PRIMARY KEY, status TEXT, owner TEXT, expires_at INTEGER);
"""

ROWS = [  # change_id, state, created_at (epoch ms, as Flamingock's JDBC driver writes), tx
    ("create-users", "STARTED", T0 - 9000, "TX_SHARED"),
    ("create-users", "APPLIED", T0 - 8000, "TX_SHARED"),
    ("user-data-sync-v2", "STARTED", T0 - 7000, "NON_TX"),
    ("cache-warming-q4", "STARTED", T0 - 6000, "NON_TX"),
    ("cache-warming-q4", "FAILED", T0 - 5000, "NON_TX"),
    ("payment-processing", "STARTED", T0 - 4000, "NON_TX"),
    ("payment-processing", "FAILED", T0 - 3000, "NON_TX"),
    ("payment-processing", "ROLLBACK_FAILED", T0 - 3000, "NON_TX"),
]


def make_flamingock_db(path: Path) -> Path:
    """A SQLite file as a Flamingock runner leaves it: three issues and one applied change."""
    conn = sqlite3.connect(path)
    conn.executescript(FLAMINGOCK_DDL)
    conn.executemany(
        "INSERT INTO flamingockAuditLog (execution_id, stage_id, change_id, author, created_at,"
        " state, tx_strategy, target_system_id, recovery_strategy, error_trace, metadata)"
        " VALUES ('exec-1', 'stage', ?, 'flamingock', ?, ?, ?, 'user-db', 'MANUAL_INTERVENTION',"
        " ?, '{}')",
        [(c, at, s, tx, "java.sql.SQLException: boom" if "FAIL" in s else None)
         for c, s, at, tx in ROWS])
    conn.commit()
    conn.close()
    return path


@contextmanager
def read_only(folder: Path, *files: Path) -> Iterator[None]:
    """Folder 0555, files 0444, and (when the process may) the folder immutable, which holds
    even for root: as root, chmod alone does not stop SQLite from creating `-wal`/`-shm`."""
    for f in files:
        f.chmod(0o444)
    folder.chmod(0o555)
    immutable = os.geteuid() == 0 and shutil.which("chattr") is not None and subprocess.run(
        ["chattr", "+i", str(folder)], capture_output=True).returncode == 0
    if os.geteuid() == 0 and not immutable:
        folder.chmod(0o755)
        pytest.skip("running as root without chattr +i: a folder cannot be made read-only")
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)
        for f in files:
            f.chmod(0o644)


@contextmanager
def write_gate(store: Path | str) -> Iterator[None]:
    """Hold a store's write lock (a SQLite file, or a server store's URL): every `setright`
    process waits at its first write (the fold when it opens the store) until the gate
    opens, so they all start together."""
    if not isinstance(store, Path):
        from setright.db import impl_for, parse_url

        url = parse_url(store, Path("."))
        impl = impl_for(url)
        server = impl.connect(url)
        impl.begin(server, write=True)
        try:
            yield
        finally:
            impl.rollback(server)
            server.close()
        return
    conn = sqlite3.connect(store, isolation_level=None, timeout=10)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()
