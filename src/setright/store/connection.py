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
from setright.db.url import check_store_url, sqlite_url
from setright.errors import StoreError
from setright.store import schema
from setright.store.audit import SQL_FUNCTIONS
from setright.timeutil import Clock, SystemClock, iso_from_ms

BUSY_TIMEOUT_MS = 5000


def as_url(store: DbUrl | Path, text: str | None = None) -> DbUrl:
    """A store given as a URL, or (SQLite) as the path of its file."""
    return store if isinstance(store, DbUrl) else sqlite_url(store, text)


#: How often `Store.write` tries to begin when another transaction holds what it needs.


def _privilege_hint(impl: DefaultImpl, exc: BaseException) -> list[str]:
    if impl.is_read_only_error(exc):
        return ["this connection may only read: readers (plan, show, issue, status…) work "
                "with it; apply, run and init need a role that may write the store"]
    return []


class Store:
    """An opened, upgraded audit store."""

    def __init__(self, conn: Connection, url: DbUrl, audit_table: str, clock: Clock,
                 *, impl: DefaultImpl, readonly: bool = False, timezone: str = "UTC") -> None:
        self.conn: Any = conn
        self.url = url
        self.impl = impl
        self.audit_table = audit_table
        self.clock = clock
        #: whether "now" is the server's (a system clock on a database that has one)
        self._server_clock = isinstance(clock, SystemClock) and impl.has_clock
        self.readonly = readonly
        #: How zone-less audit timestamps (Flamingock on a server: the JVM's local time) read.
        self.timezone = timezone
        #: True when this open created the store's lineage (it had none before).
        self.stamped_lineage = False
        #: state-writing transactions this process committed (an interrupt's message says)
        self.state_writes = 0
        self._reading = False
        self._memory_fold: Any = None  # a reader's in-memory fold (store/reader.py)
        #: the `serial` bump every state write ends with, in this database's SQL
        self._bump_serial = (f"UPDATE setright_meta SET value = {impl.integer_sql('value')} + 1"
                             f" WHERE {impl.quote('key')} = 'serial'")

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
             clock: Clock | None = None, *, timezone: str = "UTC",
             create: bool = True) -> Store:
        """Open (creating if needed) the store at `location` (a URL, or a SQLite file's
        path); safe when processes race to create it. On a server the database must exist;
        setright's tables are created in it (in the connection's current schema).

        `create=False`: a server database that holds neither setright's tables nor the
        audit table is `Error: no audit store at URL`, left as it was (the caller checks
        a SQLite file before: opening one creates it)."""
        url = as_url(location)
        impl = impl_for(url)
        try:
            # A file is created; a server database is the operator's to create (setright
            # creates its tables in it), so a mistyped database name is an error, not a store.
            conn = impl.connect(url, create=url.is_sqlite)
        except DatabaseUnavailable as exc:
            raise StoreError(f"cannot open the audit store {url.where}: {exc.cause}",
                             [check_store_url(url)]) from None
        store = cls(conn, url, audit_table, clock or SystemClock(), impl=impl, timezone=timezone)
        try:
            impl.prepare_store(conn, read_only=False, functions=SQL_FUNCTIONS, timezone=timezone)
            if not (create or store.table_exists("setright_meta")
                    or store.table_exists(audit_table)):
                from setright.db.url import no_store

                raise no_store(url, reader=False)
            if (not store.table_exists("setright_meta")
                    and store.table_exists("setright_markers")):
                raise StoreError(f"{url.where} is a runner target (it holds setright_markers),"
                                 " not an audit store; nothing was written",
                                 [check_store_url(url)])
            store._upgrade()
        except BaseException as exc:
            conn.close()
            if isinstance(exc, Exception) and impl.is_error(exc):
                raise StoreError(f"cannot open the audit store {url.where}: "
                                 f"{impl.error_line(exc)}",
                                 _privilege_hint(impl, exc)) from None
            raise
        return store

    @classmethod
    def open_reader(cls, location: DbUrl | Path, audit_table: str = "setright_audit_log",
                    clock: Clock | None = None, *, url: str | None = None,
                    timezone: str = "UTC") -> Store:
        """Open an existing store read-only; errors name it as configured (a store given
        as a SQLite file's path: as `url` says, else by the path).

        Refuses a missing store with `Error: no audit store at URL`; creates no
        file, folder, table or row. Missing `setright_*` tables read as empty.
        """
        from setright.store import reader

        resolved = as_url(location, url)
        impl, conn = reader.connect(resolved)
        store = cls(conn, resolved, audit_table, clock or SystemClock(), impl=impl,
                    readonly=True, timezone=timezone)
        try:
            impl.prepare_store(conn, read_only=True, functions=SQL_FUNCTIONS, timezone=timezone)
            store._memory_fold = reader.prepare(conn, impl, audit_table, resolved)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, Exception) and impl.is_error(exc):
                raise StoreError(f"cannot read the audit store {resolved.shown}: "
                                 f"{impl.error_line(exc)}") from None
            raise
        return store

    def _upgrade(self) -> None:
        version = schema.current_version(self.conn)
        if version > schema.SCHEMA_VERSION:
            from setright.db.url import too_new

            raise too_new(self.where, version, schema.SCHEMA_VERSION)
        if version == schema.SCHEMA_VERSION:
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
            self._begin_write()   # inside: an interrupt right after BEGIN still rolls back
            yield conn
            if state:
                conn.execute(self._bump_serial)
            impl.commit(conn)
            self.state_writes += state
        except BaseException as exc:
            self._rollback_quietly()
            if isinstance(exc, Exception) and impl.is_busy(exc):
                # A deadlock or lock wait the database gave up on: nothing was written, and
                # the body cannot be replayed from here — the command is simply run again.
                raise StoreError(f"the audit store {self.where} is busy: another transaction "
                                 "held what this one needed; nothing was written",
                                 [impl.error_line(exc), "run the command again"]) from None
            if isinstance(exc, Exception) and impl.is_read_only_error(exc):
                raise StoreError(f"cannot write the audit store {self.where}: this connection "
                                 "may only read; nothing was written",
                                 [impl.error_line(exc)]) from None
            raise

    def _rollback_quietly(self) -> None:
        """Roll back after an error. A connection the error (a Ctrl-C mid-query on a server)
        left unusable cannot roll back, and needs not: its server ends the transaction when
        it goes. Then the first error, not the rollback's, is what the command reports."""
        impl, conn = self.impl, self.conn
        try:
            if impl.in_transaction(conn):
                impl.rollback(conn)
        except Exception:  # noqa: BLE001 - the error being handled says what happened
            pass

    def _begin_write(self) -> None:
        """`impl.begin(write=True)`, tried again while another writer holds the store."""
        impl, conn = self.impl, self.conn
        attempts = impl.begin_attempts
        for attempt in range(1, attempts + 1):
            try:
                impl.begin(conn, write=True)
                return
            except Exception as exc:
                if not impl.is_error(exc) and not impl.is_busy(exc):
                    raise
                if not impl.is_busy(exc):   # the connection failed: not another process
                    raise StoreError(f"cannot begin a write on the audit store {self.where}: "
                                     f"{impl.error_line(exc)}; nothing was written") from None
                if attempt < attempts:
                    continue
                raise StoreError(
                    f"the audit store {self.where} is locked by another process",
                    [f"{impl.error_line(exc)}; waited {attempts * BUSY_TIMEOUT_MS // 1000}s"],
                ) from None

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
        return schema.meta_value(self.conn, key)

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
        """Now, for leases, lock expiry and audit `created_at`. On a server store it is the
        server's clock (one clock for every runner, whatever the hosts' clocks say), shifted
        by the test clock hook like the host's; an injected clock (a test's FixedClock) and
        SQLite use `clock`."""
        if self._server_clock:
            server = self.impl.now_ms(self.conn)
            if server is not None:
                return server + self.clock.offset_ms  # type: ignore[attr-defined]
        return self.clock.now_ms()

    def now_iso(self) -> str:
        return iso_from_ms(self.now_ms())

    def table_exists(self, name: str) -> bool:
        return self.impl.table_exists(self.conn, name)
