"""PostgreSQL (≥ 13) through psycopg 3, the `setright[postgres]` extra, imported lazily.

**Transactions.** The psycopg connection runs in autocommit mode and setright sends
`BEGIN`/`COMMIT`/`ROLLBACK` itself (`begin`, `commit`, `rollback`), so a statement outside
`begin` commits on its own — which is also how `CREATE INDEX CONCURRENTLY` and friends run.

**Isolation of writes: READ COMMITTED behind one store-wide write lock.** `begin(write=True)`
takes `pg_advisory_xact_lock` on a key of the connection's current schema as its first
statement, so writers of one store run one at a time, exactly like SQLite's
`BEGIN IMMEDIATE`; every statement after the lock sees everything committed before it.
Guards of every shape therefore hold: a guarded `UPDATE … WHERE state = :expected`, a
read-check-then-write, and a read-of-others-then-insert (write skew, which neither READ
COMMITTED nor REPEATABLE READ prevents on their own). SERIALIZABLE was the alternative; it
was not chosen because every state write bumps the one `serial` row, so two concurrent
writers would nearly always abort one with a serialization failure, and `Store.write()` is
a context manager that cannot replay its body — each call site would need a retry loop.
The lock wait is bounded by `lock_timeout` (`WRITE_LOCK_TIMEOUT_MS`, as SQLite's
busy timeout); a timeout is `is_busy`. The lock is released by COMMIT or ROLLBACK, and
readers (`begin(write=False)`: `REPEATABLE READ READ ONLY`, one snapshot) never wait for it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from setright.db import postgres_lexer as lexer
from setright.db import postgres_store
from setright.db.postgres_conn import PgConnection, driver
from setright.db.postgres_store import connect_cause, flamingock_audit_ddl  # noqa: F401
from setright.db.session_tables import TempBuilder
from setright.db.impl import (
    Connection,
    DatabaseUnavailable,
    DefaultImpl,
    ReaderCatalog,
    SchemaBuilder,
    register,
)
from setright.db.url import DbUrl

#: Bound on waiting for another writer of the same store (SQLite waits 5 s too).
WRITE_LOCK_TIMEOUT_MS = 5000
#: First half of setright's two-part advisory lock keys (the second is a hash of a name):
#: the store's write lock and a target's session locks never collide.
STORE_LOCK_CLASS = 0x5E7_0001
SESSION_LOCK_CLASS = 0x5E7_0002
#: How often (ms) the server checks that a setright process is still connected while it
#: runs a statement: a runner killed mid-statement has that statement cancelled, and its
#: transaction and locks ended, within this, not when the statement would have finished.
CLIENT_CHECK_MS = 1000

# -- the connection -----------------------------------------------------------


class PgTempBuilder(TempBuilder, PgConnection):
    """A reader's connection while a schema builder makes its TEMP stand-ins."""


# -- the implementation -------------------------------------------------------


@register
class PostgresImpl(DefaultImpl):
    name = "postgresql"
    transactional_ddl = True
    connection_types = (PgConnection,)
    begin_attempts = 3
    session_tables_in_snapshot = False
    #: READ COMMITTED writers do not wait for a foreign INSERT of a lower id (DefaultImpl).
    #: MySQL needs none: its SERIALIZABLE writer's read of the log waits for that INSERT.
    fold_lookback_ids = 1000

    write_lock_timeout_ms = WRITE_LOCK_TIMEOUT_MS

    def connect(self, url: DbUrl, *, read_only: bool = False, create: bool = False
                ) -> PgConnection:
        """Connect within `url.connect_timeout` (default 10 s); query parameters (`sslmode`…)
        are passed on. `create` does not apply: setright never creates a server database,
        and a store "exists" when `table_exists` finds its tables (the caller checks)."""
        psycopg = driver()
        params: dict[str, Any] = {"application_name": "setright", **url.params()}
        params.update(host=url.host, port=url.port, dbname=url.database,
                      connect_timeout=max(2, math.ceil(url.connect_timeout)))
        if url.user is not None:
            params["user"] = url.user
        if url.password is not None:
            params["password"] = url.password
        try:
            raw = psycopg.connect(autocommit=True, **params)
        except psycopg.Error as exc:
            cause = connect_cause(exc, url)
            raise DatabaseUnavailable(
                f"cannot connect to PostgreSQL at {url.where}: {cause}", cause=cause,
                missing=isinstance(exc, psycopg.errors.InvalidCatalogName)
                or f'database "{url.database}" does not exist' in cause) from None
        settings = ["SET default_transaction_read_only = on"] if read_only else []
        if raw.info.server_version >= 140000:  # PostgreSQL 14 added the check
            settings.append(f"SET client_connection_check_interval = {CLIENT_CHECK_MS}")
        conn = PgConnection(raw)
        if settings:
            conn.execute("; ".join(settings))
        return conn

    def begin(self, conn: Connection, *, write: bool) -> None:
        """Write: READ COMMITTED behind the store-wide advisory lock (module docstring).
        Read: one REPEATABLE READ READ ONLY snapshot."""
        if not write:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return
        conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        try:
            conn.execute(f"SET LOCAL lock_timeout = {int(self.write_lock_timeout_ms)}")
            conn.execute("SELECT pg_advisory_xact_lock(?,"
                         " hashtext(coalesce(current_schema(), '')))", (STORE_LOCK_CLASS,))
        except BaseException:
            self.rollback_quietly(conn)
            raise

    def rollback_quietly(self, conn: Connection) -> None:
        """Roll back after an error or a Ctrl-C, which can leave the connection with a command
        in flight ("another command is already in progress"): then the rollback's error must
        not replace the one being handled, and the server ends the transaction itself."""
        try:
            self.rollback(conn)
        except driver().Error:
            pass

    def commit(self, conn: Connection) -> None:
        conn.execute("COMMIT")

    def rollback(self, conn: Connection) -> None:
        if self.in_transaction(conn):
            conn.execute("ROLLBACK")

    def in_transaction(self, conn: Connection) -> bool:
        return bool(getattr(conn, "in_transaction", False))

    def is_busy(self, exc: BaseException) -> bool:
        errors = driver().errors
        return isinstance(exc, (errors.SerializationFailure, errors.DeadlockDetected,
                                errors.LockNotAvailable))

    def is_integrity_error(self, exc: BaseException) -> bool:
        return isinstance(exc, driver().IntegrityError)

    def is_read_only_error(self, exc: BaseException) -> bool:
        errors = driver().errors
        return isinstance(exc, (errors.InsufficientPrivilege, errors.ReadOnlySqlTransaction))

    def is_error(self, exc: BaseException) -> bool:
        return isinstance(exc, driver().Error)

    def driver_errors(self) -> type[Exception]:
        """The driver's base exception class, for `except impl.driver_errors():`."""
        return driver().Error  # type: ignore[no-any-return]

    @property
    def errors(self) -> Any:
        """psycopg's module of SQLSTATE exception classes (`errors.UndefinedTable`…)."""
        return driver().errors

    # -- SQL that differs ----------------------------------------------------

    @staticmethod
    def quote(identifier: str) -> str:
        """The identifier unquoted, as Flamingock writes it, after checking it is plain.

        SQLite's `quote` (and `store/schema.py`'s, which the store applies to the configured
        audit table name today) wraps names in double quotes: harmless there, since SQLite
        matches names case-insensitively. On PostgreSQL a quoted name is case-sensitive:
        `"flamingockAuditLog"` would miss the `flamingockauditlog` table Flamingock created
        with the unquoted name, so names are used unquoted and PostgreSQL folds them. Store
        SQL must therefore quote through `impl.quote`, never a quoting function of its own.
        """
        return postgres_store.quote_plain(identifier)

    def insert_returning_id(self, conn: Connection, sql: str, parameters: Sequence[Any],
                            id_column: str = "id") -> int:
        row = conn.execute(f"{sql} RETURNING {self.quote(id_column)}", parameters).fetchone()
        return int(row[0])

    def advance_id_sequence(self, conn: Connection, table: str, id_column: str = "id") -> None:
        """Move the column's sequence past the highest id (rows inserted with explicit ids
        do not advance it; `store migrate` keeps ids)."""
        t, c = self.quote(table), self.quote(id_column)
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence(?, ?), greatest(coalesce(max({c}), 0), 1),"
            f" max({c}) IS NOT NULL) FROM {t}", (t.lower(), c.lower()))

    # -- DDL for setright's own tables ------------------------------------------

    def column_type(self, kind: type, *, key: bool = False) -> str:
        return {str: "TEXT", int: "BIGINT", float: "DOUBLE PRECISION"}[kind]

    def create_table(self, conn: Connection, name: str, columns: dict[str, type],
                     pk: Sequence[str], not_null: Sequence[str] = (),
                     autoincrement: str | None = None) -> None:
        """`autoincrement` names a BIGINT identity column (explicit ids are still accepted)."""
        parts = []
        for column, kind in columns.items():
            if column == autoincrement:
                parts.append(f"{self.quote(column)} BIGINT GENERATED BY DEFAULT AS IDENTITY")
                continue
            null = " NOT NULL" if column in not_null else ""
            parts.append(f"{self.quote(column)} {self.column_type(kind)}{null}")
        if pk:
            parts.append(f"PRIMARY KEY ({', '.join(self.quote(c) for c in pk)})")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {self.quote(name)} ({', '.join(parts)})")

    def create_index(self, conn: Connection, name: str, table: str, columns: Sequence[str],
                     *, unique: bool = False) -> None:
        kind = "UNIQUE INDEX" if unique else "INDEX"
        cols = ", ".join(self.quote(c) for c in columns)
        conn.execute(f"CREATE {kind} IF NOT EXISTS {self.quote(name)} "
                     f"ON {self.quote(table)} ({cols})")

    def create_one_active_index(self, conn: Connection, name: str, table: str, column: str,
                                state_column: str, states: Sequence[str]) -> None:
        values = ", ".join(literal(s) for s in states)
        conn.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {self.quote(name)} "
                     f"ON {self.quote(table)} ({self.quote(column)}) "
                     f"WHERE {self.quote(state_column)} IN ({values})")

    def audit_table_ddl(self, table: str, conn: Connection) -> str:
        """Flamingock's own PostgreSQL DDL, so a Flamingock runner can share the table."""
        return flamingock_audit_ddl(table)

    def iso_from_ms_sql(self, expression: str) -> str:
        return postgres_store.iso_from_ms_sql(expression)

    def error_summary_sql(self, expression: str) -> str:
        return postgres_store.error_summary_sql(expression)

    def audit_write_values(self, conn: Connection, table: str, values: Mapping[str, Any],
                           created_ms: int) -> dict[str, Any]:
        types = postgres_store.column_types(conn, table, self._column_types)
        return postgres_store.audit_write_values(types, values, created_ms,
                                                 getattr(conn, "audit_timezone", "UTC"))

    def _column_types(self, conn: Connection, table: str) -> dict[str, str]:
        return {row[0]: row[1] for row in conn.execute(
            "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a"
            " WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped",
            (fold(table),))}

    def stand_in_tables(self, conn: Connection, names: Collection[str], build: SchemaBuilder,
                        key: str) -> None:
        postgres_store.stand_in_tables(conn, PgTempBuilder, names, build)

    def shadow_table(self, conn: Connection, name: str, build: SchemaBuilder, key: str) -> None:
        postgres_store.shadow_table(conn, fold(name))

    def audit_ms_sql(self, conn: Connection, table: str, column: str = "created_at",
                     timezone: str | None = None) -> str:
        """`column` as epoch ms, by the column's declared type; `column` may be qualified
        (`a.created_at`), the type is looked up by its last part in `table`.

        Integers are ms already, numbers are cut towards zero as SQLite cuts a REAL
        (`number_ms_sql`: NULL outside bigint); a zone-less TIMESTAMP is the writer's wall clock in
        `timezone`; TIMESTAMPTZ is absolute; text holds ms digits, ISO-8601 (with or
        without a zone) or `yyyy-MM-dd HH:mm:ss.SSS` (zone-less: read in `timezone`), by
        `ms_from_any`'s rules (`text_ms_sql`): other text is NULL, never an error.
        Fractions beyond ms are cut, as Java's `toEpochMilli` does.
        """
        info = self._column_info(conn, table, column.rsplit(".", 1)[-1])
        kind = info[0] if info else None
        tz = literal(timezone or getattr(conn, "audit_timezone", "UTC"))
        if kind in ("smallint", "integer", "bigint"):
            return f"({column})::bigint"
        if kind in ("numeric", "real", "double precision"):
            return postgres_store.number_ms_sql(column, kind)
        if kind == "timestamp without time zone":
            return postgres_store.epoch_ms_sql(postgres_store.local_instant_sql(column, tz))
        if kind == "timestamp with time zone":
            return postgres_store.epoch_ms_sql(f"({column})")
        return postgres_store.text_ms_sql(column, tz)

    has_clock = True

    def now_ms(self, conn: Connection) -> int:
        row = conn.execute(
            "SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint").fetchone()
        return int(row[0])

    def created_at_step_ms(self, conn: Connection, table: str) -> int:
        """1 ms, except for timestamps declared with fewer than 3 fractional digits
        (`TIMESTAMP(0)` keeps whole seconds: 1000)."""
        info = self._column_info(conn, table, "created_at")
        if info is None or info[1] not in ("timestamp", "timestamptz") or info[2] < 0:
            return 1
        return 10 ** max(0, 3 - info[2])

    def refresh_statistics(self, conn: Connection, table: str, changed: int) -> None:
        """ANALYZE after a large share of the table was written (`postgres_store`)."""
        postgres_store.refresh_statistics(conn, fold(table), changed)

    # -- the catalog --------------------------------------------------------

    def table_names(self, conn: Connection) -> set[str]:
        """Tables (and partitioned tables) of the connection's `current_schema()`."""
        return {row[0] for row in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')")}

    def table_exists(self, conn: Connection, name: str) -> bool:
        """`name` as PostgreSQL folds an unquoted name: `flamingockAuditLog` finds
        `flamingockauditlog`."""
        return conn.execute(
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname = ?",
            (fold(name),)).fetchone() is not None

    def column_names(self, conn: Connection, table: str) -> list[str]:
        """The columns of the table SQL naming `table` would use (a session's TEMP table
        first, as PostgreSQL resolves names)."""
        return [row[0] for row in conn.execute(
            "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass(?)"
            " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", (fold(table),))]

    def column_kinds(self, conn: Connection, table: str) -> dict[str, str]:
        """Kinds from the declared types; generated columns (`attgenerated`) left out."""
        return {name: _PG_KINDS.get(kind, "any") for name, kind in conn.execute(
            "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a"
            " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relname = ? AND a.attnum > 0"
            " AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum", (fold(table),))}

    def _column_info(self, conn: Connection, table: str, column: str
                     ) -> tuple[str, str, int] | None:
        """(type without modifier, e.g. `timestamp without time zone`; pg_type name; typmod).
        A reader's audit table answers from what `reader_catalog` read."""
        known = getattr(conn, "known_columns", {}).get((fold(table), fold(column)))
        if known is not None:
            return known  # type: ignore[no-any-return]
        row = conn.execute(
            "SELECT format_type(a.atttypid, NULL), t.typname, a.atttypmod FROM pg_attribute a"
            " JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = to_regclass(?)"
            " AND a.attname = ? AND NOT a.attisdropped", (fold(table), fold(column))).fetchone()
        return (row[0], row[1], int(row[2])) if row else None

    def reader_catalog(self, conn: Connection, audit_table: str) -> ReaderCatalog:
        """One query; the audit table's column types are kept for `_column_info`."""
        tables, columns, known = postgres_store.reader_catalog(conn, fold(audit_table))
        conn.known_columns = known  # type: ignore[attr-defined]
        return ReaderCatalog(tables, columns)

    def schema_snapshot(self, conn: Connection, *, exclude_prefix: str = "setright_"
                        ) -> dict[str, Any]:
        from setright.db.postgres_snapshot import schema_snapshot

        return schema_snapshot(conn, exclude_prefix)

    # -- change scripts -----------------------------------------------------

    def split_statements(self, script: str) -> list[str]:
        return lexer.split_statements(script)

    def needs_autocommit(self, statement: str) -> bool:
        return lexer.needs_autocommit(statement)


# -- helpers ----------------------------------------------------------------------

#: `format_type` names → `column_kinds` kinds (anything else takes its values as given).
_PG_KINDS = {
    "smallint": "integer", "integer": "integer", "bigint": "integer",
    "numeric": "real", "real": "real", "double precision": "real",
    "text": "text", "character varying": "text", "character": "text",
    "boolean": "boolean",
    "timestamp without time zone": "timestamp", "timestamp with time zone": "timestamptz",
}


def fold(name: str) -> str:
    """How PostgreSQL stores an unquoted name: lower case (after checking it is plain)."""
    return PostgresImpl.quote(name).lower()


literal = postgres_store.literal
