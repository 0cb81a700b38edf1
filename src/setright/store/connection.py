"""The `Store`: one connection to the audit store, its transactions and its metadata.

Every state write runs inside `Store.write()`: `impl.begin(write=True)` (SQLite:
`BEGIN IMMEDIATE`), the guarded updates, a `serial` bump, `impl.commit` — or
`impl.rollback` on any exception, so a refused command leaves the state tables
exactly as they were. What differs per database is the `impl`'s (`setright.db`).

Writers open with `Store.open` (creating and upgrading the store); readers
with `Store.open_reader`, which never creates, upgrades or writes anything
: see `store/reader.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from setright.db import Connection, DbUrl
from setright.db.impl import DatabaseUnavailable, DefaultImpl, impl_for
from setright.db.url import sqlite_url
from setright.errors import StoreError
from setright.store import schema
from setright.store.audit import SQL_FUNCTIONS
from setright.timeutil import Clock, SystemClock, iso_from_ms

BUSY_TIMEOUT_MS = 5000


def as_url(store: DbUrl | Path, text: str | None = None) -> DbUrl:
    """A store given as a URL, or (SQLite) as the path of its file."""
    return store if isinstance(store, DbUrl) else sqlite_url(store, text)


def _refuse_servers(url: DbUrl) -> None:
    """This version keeps the audit store in SQLite (targets and URLs already go further)."""
    if not url.is_sqlite:
        raise StoreError(f"the audit store on {url.dialect} is not supported yet",
                         [f"store.url is {url.shown}; keep the audit store in SQLite "
                          "(sqlite:///path.db) for now"])


class Store:
    """An opened, upgraded audit store."""

    def __init__(self, conn: Connection, url: DbUrl, audit_table: str, clock: Clock,
                 *, impl: DefaultImpl, readonly: bool = False) -> None:
        self.conn: Any = conn
        self.url = url
        self.impl = impl
        self.audit_table = audit_table
        self.clock = clock
        self.readonly = readonly
        #: True when this open created the store's lineage (it had none before).
        self.stamped_lineage = False
        self._reading = False
        self._memory_fold: Any = None  # a reader's in-memory fold (store/reader.py)

    @property
    def path(self) -> Path:
        """The SQLite file of the store (SQLite only)."""
        if self.url.path is None:
            raise AttributeError(f"the audit store on {self.url.dialect} has no file path")
        return self.url.path

    @property
    def where(self) -> str:
        """How a writer's messages name the store: its file, or host:port/database."""
        return self.url.where

    # -- opening -----------------------------------------------------------

    @classmethod
    def open(cls, location: DbUrl | Path, audit_table: str = "setright_audit_log",
             clock: Clock | None = None) -> Store:
        """Open (creating if needed) the store at `location` (a URL, or a SQLite file's
        path); safe when processes race to create it."""
        url = as_url(location)
        impl = impl_for(url)
        _refuse_servers(url)
        try:
            conn = impl.connect(url, create=True)
        except DatabaseUnavailable as exc:
            raise StoreError(f"cannot open the audit store {url.where}: {exc.cause}") from None
        store = cls(conn, url, audit_table, clock or SystemClock(), impl=impl)
        try:
            impl.prepare_store(conn, read_only=False, functions=SQL_FUNCTIONS)
            store._upgrade()
        except BaseException as exc:
            conn.close()
            if isinstance(exc, Exception) and impl.is_error(exc):
                raise StoreError(f"cannot open the audit store {url.where}: {exc}") from None
            raise
        return store

    @classmethod
    def open_reader(cls, location: DbUrl | Path, audit_table: str = "setright_audit_log",
                    clock: Clock | None = None, *, url: str | None = None) -> Store:
        """Open an existing store read-only; errors name it as configured (a store given
        as a SQLite file's path: as `url` says, else by the path).

        Refuses a missing store with `Error: no audit store at URL`; creates no
        file, folder, table or row. Missing `setright_*` tables read as empty.
        """
        from setright.store import reader

        resolved = as_url(location, url)
        _refuse_servers(resolved)
        impl, conn = reader.connect(resolved)
        store = cls(conn, resolved, audit_table, clock or SystemClock(), impl=impl, readonly=True)
        try:
            impl.prepare_store(conn, read_only=True, functions=SQL_FUNCTIONS)
            store._memory_fold = reader.prepare(conn, impl, audit_table, resolved)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, Exception) and impl.is_error(exc):
                raise StoreError(f"cannot read the audit store {resolved.shown}: {exc}") from None
            raise
        return store

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
        check_audit_layout(self.conn, self.audit_table, self.where)

    def close(self) -> None:
        self.conn.close()

    # -- transactions ------------------------------------------------------

    @contextmanager
    def write(self, *, state: bool = True) -> Iterator[Any]:
        """One write transaction (SQLite: `BEGIN IMMEDIATE`); bumps `serial` when it writes
        state tables. Yields the connection (`setright.db.Connection`)."""
        if self.readonly:
            raise RuntimeError("a read command tried to write the audit store")
        impl, conn = self.impl, self.conn
        if impl.in_transaction(conn):
            raise RuntimeError("nested store transaction")
        try:
            impl.begin(conn, write=True)
        except Exception as exc:
            if not impl.is_error(exc):
                raise
            raise StoreError(
                f"the audit store {self.where} is locked by another process",
                [f"{exc}; waited {BUSY_TIMEOUT_MS // 1000}s"],
            ) from None
        try:
            yield conn
            if state:
                conn.execute(
                    "UPDATE setright_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'serial'"
                )
            impl.commit(conn)
        except BaseException:
            if impl.in_transaction(conn):
                impl.rollback(conn)
            raise

    @contextmanager
    def read(self) -> Iterator[Any]:
        """A read transaction: one consistent snapshot for multi-query reads.

        Re-entrant: inside an open snapshot it yields the same one. A reader folds
        what the change-state cache lacks into memory first, inside the snapshot.
        """
        if self._reading:
            yield self.conn
            return
        impl, conn = self.impl, self.conn
        impl.begin(conn, write=False)
        self._reading = True
        try:
            if self._memory_fold is not None:
                self._memory_fold.catch_up(conn)
            yield conn
        finally:
            self._reading = False
            if impl.in_transaction(conn):
                impl.commit(conn)

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
        return self.impl.table_exists(self.conn, name)
