"""The `Store`: one SQLite connection, its transactions and its metadata.

Every state write runs inside `Store.write()`: `BEGIN IMMEDIATE`, the guarded
updates, a `serial` bump, `COMMIT` — or `ROLLBACK` on any exception, so a
refused command leaves the state tables exactly as they were.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from setright.errors import StoreError
from setright.store import schema
from setright.store.audit import SQL_FUNCTIONS
from setright.timeutil import Clock, SystemClock, iso_from_ms

BUSY_TIMEOUT_MS = 5000


class Store:
    """An opened, upgraded audit store."""

    def __init__(self, conn: sqlite3.Connection, path: Path, audit_table: str, clock: Clock) -> None:
        self.conn = conn
        self.path = path
        self.audit_table = audit_table
        self.clock = clock

    # -- opening -----------------------------------------------------------

    @classmethod
    def open(cls, path: Path, audit_table: str = "setright_audit_log",
             clock: Clock | None = None) -> Store:
        """Open (creating if needed) the store at `path`; safe when processes race to create it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the audit store {path}: {exc}") from None
        store = cls(conn, path, audit_table, clock or SystemClock())
        try:
            store._configure()
            store._upgrade()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"cannot open the audit store {path}: {exc}") from None
        except BaseException:
            conn.close()
            raise
        return store

    def _configure(self) -> None:
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # pragma: no cover - e.g. a read-only medium
            raise StoreError(f"cannot switch the audit store {self.path} to WAL mode (got {mode})")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        for name, function in SQL_FUNCTIONS.items():
            self.conn.create_function(name, 1, function, deterministic=True)

    def _upgrade(self) -> None:
        if schema.current_version(self.conn) >= schema.SCHEMA_VERSION:
            self._check_audit_table()
            return
        with self.write(state=False):
            schema.upgrade(self.conn, self.audit_table)
        self._check_audit_table()

    def _check_audit_table(self) -> None:
        missing = schema.missing_audit_columns(self.conn, self.audit_table)
        if len(missing) == len(schema.AUDIT_COLUMN_NAMES):
            # A store created for another audit table (or a Flamingock table added later).
            with self.write(state=False):
                schema.create_audit_table(self.conn, self.audit_table)
            missing = schema.missing_audit_columns(self.conn, self.audit_table)
        if missing:
            raise StoreError(
                f"table {self.audit_table!r} in {self.path} is not a Flamingock-layout audit log",
                [f"missing columns: {', '.join(missing)}"],
            )
        recorded = self.meta("audit_table")
        if recorded and recorded != self.audit_table:
            raise StoreError(
                f"the audit store {self.path} folds audit table {recorded!r}, "
                f"not {self.audit_table!r}",
                ["use one store per audit table (store.audit_table in setright.yaml)"],
            )

    def close(self) -> None:
        self.conn.close()

    # -- transactions ------------------------------------------------------

    @contextmanager
    def write(self, *, state: bool = True) -> Iterator[sqlite3.Connection]:
        """One `BEGIN IMMEDIATE` transaction; bumps `serial` when it writes state tables."""
        if self.conn.in_transaction:
            raise RuntimeError("nested store transaction")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(
                f"the audit store {self.path} is locked by another process",
                [f"{exc}; waited {BUSY_TIMEOUT_MS // 1000}s"],
            ) from None
        try:
            yield self.conn
            if state:
                self.conn.execute(
                    "UPDATE setright_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'serial'"
                )
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot for multi-query reads."""
        self.conn.execute("BEGIN")
        try:
            yield self.conn
        finally:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")

    # -- metadata ----------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM setright_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @property
    def lineage(self) -> str:
        return self.meta("lineage") or ""

    @property
    def serial(self) -> int:
        return int(self.meta("serial") or 0)

    def refresh(self) -> int:
        """Fold audit rows written since the last fold (by us or another runner)."""
        from setright.store.audit import refresh_change_state

        with self.write(state=False) as tx:
            return refresh_change_state(tx, self.audit_table)

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def now_iso(self) -> str:
        return iso_from_ms(self.clock.now_ms())

    def table_exists(self, name: str) -> bool:
        return self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone() is not None

