"""The `Store`: one SQLite connection, its transactions and its metadata.

Every state write runs inside `Store.write()`: `BEGIN IMMEDIATE`, the guarded
updates, a `serial` bump, `COMMIT` — or `ROLLBACK` on any exception, so a
refused command leaves the state tables exactly as they were.

Writers open with `Store.open` (creating and upgrading the store); readers
with `Store.open_reader`, which never creates, upgrades or writes anything
(DESIGN §9.3): see `store/reader.py`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from setright.errors import StoreError
from setright.store import schema
from setright.store.audit import SQL_FUNCTIONS
from setright.store.url import shown_url
from setright.timeutil import Clock, SystemClock, iso_from_ms

BUSY_TIMEOUT_MS = 5000


class Store:
    """An opened, upgraded audit store."""

    def __init__(self, conn: sqlite3.Connection, path: Path, audit_table: str, clock: Clock,
                 *, readonly: bool = False, url: str | None = None) -> None:
        self.conn = conn
        self.path = path
        self.audit_table = audit_table
        self.clock = clock
        self.readonly = readonly
        self.url = url or str(path)
        #: True when this open created the store's lineage (it had none before).
        self.stamped_lineage = False
        self._reading = False
        self._memory_fold: Any = None  # a reader's in-memory fold (store/reader.py)

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

    @classmethod
    def open_reader(cls, path: Path, audit_table: str = "setright_audit_log",
                    clock: Clock | None = None, *, url: str | None = None) -> Store:
        """Open an existing store read-only (`mode=ro`); `url` is how errors name it.

        Refuses a missing store with `Error: no audit store at URL`; creates no
        file, folder, table or row. Missing `setright_*` tables read as empty.
        """
        from setright.store import reader

        conn = reader.connect_readonly(path, url or str(path))
        store = cls(conn, path, audit_table, clock or SystemClock(), readonly=True, url=url)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            for name, function in SQL_FUNCTIONS.items():
                conn.create_function(name, 1, function, deterministic=True)
            store._memory_fold = reader.prepare(conn, audit_table, store.url)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"cannot read the audit store {shown_url(store.url)}: {exc}") from None
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
            had_lineage = self.table_exists("setright_meta") and self.meta("lineage")
            schema.upgrade(self.conn, self.audit_table)
            self.stamped_lineage = not had_lineage
        self._check_audit_table()

    def _check_audit_table(self) -> None:
        from setright.store.reader import check_audit_layout

        missing = schema.missing_audit_columns(self.conn, self.audit_table)
        if len(missing) == len(schema.AUDIT_COLUMN_NAMES):
            # A store created for another audit table (or a Flamingock table added later).
            with self.write(state=False):
                schema.create_audit_table(self.conn, self.audit_table)
        check_audit_layout(self.conn, self.audit_table, str(self.path))

    def close(self) -> None:
        self.conn.close()

    # -- transactions ------------------------------------------------------

    @contextmanager
    def write(self, *, state: bool = True) -> Iterator[sqlite3.Connection]:
        """One `BEGIN IMMEDIATE` transaction; bumps `serial` when it writes state tables."""
        if self.readonly:
            raise RuntimeError("a read command tried to write the audit store")
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
        """A read transaction: one consistent snapshot for multi-query reads.

        Re-entrant: inside an open snapshot it yields the same one. A reader folds
        what the change-state cache lacks into memory first, inside the snapshot.
        """
        if self._reading:
            yield self.conn
            return
        self.conn.execute("BEGIN")
        self._reading = True
        try:
            if self._memory_fold is not None:
                self._memory_fold.catch_up(self.conn)
            yield self.conn
        finally:
            self._reading = False
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")

    # -- metadata ----------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM setright_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @property
    def lineage(self) -> str | None:
        """The store's identity; None for a store setright has never written to."""
        return self.meta("lineage") or None

    def lineage_matches(self, planned: str | None) -> bool:
        """Whether a plan made for `planned` may be applied here: the same lineage, or a plan
        made before the store had one (`lineage: null`) while it still had none when opened."""
        if planned is None:
            return self.lineage is None or self.stamped_lineage
        return planned == self.lineage

    @property
    def serial(self) -> int:
        return int(self.meta("serial") or 0)

    def refresh(self) -> int:
        """Fold audit rows written since the last fold (by us or another runner).

        A reader folds in memory instead (at open and in every `read()`), never here.
        """
        from setright.store.audit import refresh_change_state

        if self.readonly:
            return 0
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

