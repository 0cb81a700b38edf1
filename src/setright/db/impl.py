"""What differs per database, in one small class per dialect, chosen by name.

In the spirit of Alembic's `ddl/impl.py`: `DefaultImpl` holds the portable
behaviour and documents every hook; `SqliteImpl` (and later one class per
server database) overrides only what its database does differently. The rest
of setright writes portable SQL with `?` placeholders against a `Connection`
and asks its `impl` for everything else: opening, transactions, upserts,
catalog questions, statement splitting and schema snapshots.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from setright.db.url import DbUrl
from setright.errors import SetrightError


class Cursor(Protocol):
    rowcount: int
    lastrowid: int | None

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Any: ...


class Connection(Protocol):
    """The DB-API subset setright uses; SQL is written with `?` placeholders."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...
    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...
    def close(self) -> None: ...


class DatabaseUnavailable(SetrightError):
    """The database cannot be reached or opened (down, wrong password, missing file…).

    `missing`: there is no database at all (a reader then says "no audit store at URL");
    `cause`: the driver's reason alone, for callers that word the message themselves."""

    def __init__(self, message: str, details: list[str] | None = None, *,
                 missing: bool = False, cause: str | None = None) -> None:
        super().__init__(message, details)
        self.missing = missing
        self.cause = message if cause is None else cause


#: Builds setright's whole store schema in a connection (inside a transaction): how a
#: dialect learns the tables a reader's stand-ins must mirror (`stand_in_tables`).
SchemaBuilder = Callable[[Connection], None]


@dataclass(frozen=True)
class ReaderCatalog:
    """What a reader asks the catalog first (`DefaultImpl.reader_catalog`)."""

    #: The store's tables (`table_names`).
    tables: set[str]
    #: The audit table's columns in order; None: the store has no such table.
    audit_columns: list[str] | None


#: The kinds of column `DefaultImpl.column_kinds` reports: what a value must be converted
#: to before it is written there ("timestamp" is zone-less, "timestamptz" absolute).
COLUMN_KINDS = ("any", "integer", "real", "text", "boolean", "timestamp", "timestamptz")


class DefaultImpl:
    """Portable defaults; a subclass per dialect overrides what its database does differently."""

    name: ClassVar[str] = "default"
    #: DDL runs inside a transaction and rolls back with it.
    transactional_ddl: ClassVar[bool] = True
    #: The classes of the connections `connect` returns, so `impl_of(conn)` finds the
    #: implementation from a bare connection (store functions take only a connection).
    connection_types: ClassVar[tuple[type, ...]] = ()
    #: A reader's session tables (`stand_in_tables`, `shadow_table`) can be made inside its
    #: read snapshot. Where a read-only transaction may not create tables, even temporary
    #: ones (PostgreSQL, MySQL), they are made before the snapshot begins.
    session_tables_in_snapshot: ClassVar[bool] = True
    #: How often a writer tries to begin while another holds the store. SQLite's busy
    #: timeout already waits inside one try; a server's lock wait can end in a deadlock
    #: or lock-wait error that a fresh try gets past.
    begin_attempts: ClassVar[int] = 1
    #: How many ids below the folded point every fold reads again. PostgreSQL hands out an
    #: audit id at INSERT but shows the row at COMMIT, so a concurrent transaction that
    #: takes no setright lock (a Flamingock runner's) can commit an id below one already
    #: folded; reading a window again finds it, and changes nothing else (the fold keeps a
    #: maximum). SQLite has one writer at a time: ids become visible in order.
    fold_lookback_ids: ClassVar[int] = 0

    # -- connecting and transactions --------------------------------------

    def connect(self, url: DbUrl, *, read_only: bool = False, create: bool = False) -> Connection:
        raise NotImplementedError

    def prepare_store(self, conn: Connection, *, read_only: bool,
                      functions: Mapping[str, Callable[[Any], Any]],
                      timezone: str = "UTC") -> None:
        """Session set-up of an audit-store connection (after `connect`). `functions` are
        the Python scalar functions the store's SQL hooks may call where the database runs
        them in-process (SQLite); other dialects express them in SQL and ignore them.
        `timezone` (`store.timezone`) is how zone-less audit timestamps read and are written
        (`audit_ms_sql`, `audit_time_value`): by default checked, then kept on the
        connection as `audit_timezone`."""
        from setright.db.zonecase import zone

        zone(timezone)
        conn.audit_timezone = timezone  # type: ignore[attr-defined]

    def begin(self, conn: Connection, *, write: bool) -> None:
        """Start a transaction at the isolation the guarded updates need."""
        conn.execute("BEGIN")

    def commit(self, conn: Connection) -> None:
        conn.execute("COMMIT")

    def rollback(self, conn: Connection) -> None:
        conn.execute("ROLLBACK")

    def in_transaction(self, conn: Connection) -> bool:
        raise NotImplementedError

    def is_busy(self, exc: BaseException) -> bool:
        """Whether `exc` means another transaction holds what we need (try again later)."""
        return False

    def is_integrity_error(self, exc: BaseException) -> bool:
        return False

    def is_error(self, exc: BaseException) -> bool:
        """Whether `exc` is any error of this database's driver."""
        return False

    def is_read_only_error(self, exc: BaseException) -> bool:
        """Whether `exc` means this connection may not write (a role with only SELECT, a
        read-only file)."""
        return False

    def error_line(self, exc: BaseException) -> str:
        """A driver error as one line (no SQL context, no hints spread over lines)."""
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        return lines[0] if lines else type(exc).__name__

    # -- SQL that differs ----------------------------------------------------

    @staticmethod
    def quote(identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def upsert_sql(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        """INSERT … or, when a row with the same `key` exists, update the other columns."""
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
        return (f"INSERT INTO {table} ({names}) VALUES ({marks}) "
                f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}")

    def upsert_select_sql(self, table: str, columns: Sequence[str], key: Sequence[str],
                          select: str, newer: Sequence[str]) -> str:
        """INSERT INTO `table` (`columns`) the rows of `select`; where a row with the same `key`
        exists, update its other columns only if the new row's `newer` columns compare
        greater, as a row value, than the stored ones; a name written `-name` compares the
        other way round (the lower value wins: a tie-break such as the fold's earlier id).
        `select` must name its columns as `columns` and end with a WHERE clause (SQLite's
        parser needs it before ON CONFLICT)."""
        names = ", ".join(columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
        mine = ", ".join(c[0] + "excluded." + c[1:] if c[0] == "-" else f"excluded.{c}"
                         for c in newer)
        theirs = ", ".join(c[0] + f"{table}." + c[1:] if c[0] == "-" else f"{table}.{c}"
                           for c in newer)
        return (f"INSERT INTO {table} ({names}) {select} "
                f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates} "
                f"WHERE ({mine}) > ({theirs})")

    def integer_sql(self, expression: str) -> str:
        """`expression` (text holding digits) as an integer."""
        return f"CAST({expression} AS INTEGER)"

    def exact_text_sql(self, expression: str) -> str:
        """`expression` compared code unit for code unit (no case folding, no padding),
        whatever the collation of a table setright did not create: itself by default."""
        return expression

    def exact_equals_sql(self, column: str) -> tuple[str, int]:
        """`column = ?` compared exactly (see `exact_text_sql`) and the number of times the
        value is bound: the plain test finds the rows by the column's index."""
        exact = self.exact_text_sql(column)
        if exact == column:
            return f"{column} = ?", 1
        return f"{column} = ? AND {exact} = {self.exact_text_sql('?')}", 2

    def row_order_sql(self, alias: str, key: str | None = None) -> str:
        """An expression that orders a table's rows as they were inserted, where the database
        keeps such an order (SQLite's rowid); elsewhere the key column `key` (None: 0, for a
        table whose key says nothing about order — callers add their own tie-break)."""
        return f"{alias}.{key}" if key else "0"

    def insert_ignore_sql(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        """INSERT … unless a row with the same `key` exists."""
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        return (f"INSERT INTO {table} ({names}) VALUES ({marks}) "
                f"ON CONFLICT ({', '.join(key)}) DO NOTHING")

    def insert_returning_id(self, conn: Connection, sql: str, parameters: Sequence[Any],
                            id_column: str = "id") -> int:
        """Run an INSERT into a table with an auto-increment `id_column`; return the new id."""
        return int(conn.execute(sql, parameters).lastrowid or 0)

    def advance_id_sequence(self, conn: Connection, table: str, id_column: str = "id") -> None:
        """Make the next generated `id_column` exceed every id in `table` (after rows were
        inserted with explicit ids, as `store migrate` does); a no-op where the database
        derives the next id from the rows themselves."""

    # -- DDL for setright's own tables ------------------------------------------

    def column_type(self, kind: type, *, key: bool = False) -> str:
        """The column type for a Python type (`key`: part of a primary key or index)."""
        return {str: "TEXT", int: "INTEGER", float: "REAL"}[kind]

    def create_table(self, conn: Connection, name: str, columns: dict[str, type],
                     pk: Sequence[str], not_null: Sequence[str] = (),
                     autoincrement: str | None = None) -> None:
        """CREATE TABLE IF NOT EXISTS, types from `column_type`."""
        raise NotImplementedError

    def create_index(self, conn: Connection, name: str, table: str, columns: Sequence[str],
                     *, unique: bool = False) -> None:
        raise NotImplementedError

    #: whether `create_partial_index` leaves the rows outside its WHERE out of the index
    partial_indexes = True

    def create_partial_index(self, conn: Connection, name: str, table: str,
                             columns: Sequence[str], where: str) -> None:
        """An index on `columns` over the rows where `where` holds, so writing any other
        row costs it nothing. Where the database has no partial indexes, a plain one."""
        cols = ", ".join(self.quote(c) for c in columns)
        conn.execute(f"CREATE INDEX IF NOT EXISTS {self.quote(name)} ON {self.quote(table)}"
                     f" ({cols}) WHERE {where}")

    def drop_index(self, conn: Connection, name: str, table: str) -> None:
        """DROP INDEX IF EXISTS (`table` for the databases that name an index by it)."""
        conn.execute(f"DROP INDEX IF EXISTS {self.quote(name)}")

    def create_one_active_index(self, conn: Connection, name: str, table: str, column: str,
                                state_column: str, states: Sequence[str]) -> None:
        """A unique index on `column` over the rows whose `state_column` is in `states`."""
        raise NotImplementedError

    def audit_ms_sql(self, conn: Connection, table: str, column: str = "created_at",
                     timezone: str | None = None) -> str:
        """An SQL expression: `column` of the audit table as epoch milliseconds.

        Flamingock writes integer milliseconds on SQLite and zone-less TIMESTAMPs (the JVM's
        local time, read in `timezone`; None: the store's `store.timezone`) on PostgreSQL
        and MySQL."""
        raise NotImplementedError

    def audit_write_values(self, conn: Connection, table: str, values: Mapping[str, Any],
                           created_ms: int) -> dict[str, Any]:
        """An audit row to insert, in the table's own column types: `created_at` is epoch ms
        `created_ms` (a zone-less timestamp holds it as `store.timezone`'s wall-clock time),
        flags are booleans where the column is BOOLEAN."""
        return {**values, "created_at": created_ms}

    def iso_from_ms_sql(self, expression: str) -> str:
        """An SQL expression: epoch ms `expression` as setright's ISO-8601 text
        (`2026-11-22T12:00:00.000Z`, UTC, milliseconds), NULL for NULL."""
        raise NotImplementedError

    def error_summary_sql(self, expression: str) -> str:
        """An SQL expression: an error trace's first non-empty line, stripped and cut to
        160 characters with "…" (`store.audit.error_summary`), NULL for an empty trace."""
        raise NotImplementedError

    def audit_table_ddl(self, table: str, conn: Connection) -> str:
        """`CREATE TABLE IF NOT EXISTS` of a Flamingock-layout audit log named `table`, with
        Flamingock's column types in this dialect (`conn`: the server it is for)."""
        raise NotImplementedError

    #: Whether `now_ms` asks the database (a server: one clock for every runner).
    has_clock = False

    def now_ms(self, conn: Connection) -> int | None:
        """The database server's clock in epoch ms (one clock for every runner), or None
        where the database has no clock of its own (SQLite: the host's clock is used).
        A database that has one overrides this and sets `has_clock`."""
        return None

    #: The smallest step of the audit log's `created_at` in ms (Flamingock's MySQL TIMESTAMP
    #: keeps whole seconds), for the clock-skew rule.
    def created_at_step_ms(self, conn: Connection, table: str) -> int:
        return 1

    def refresh_statistics(self, conn: Connection, table: str, changed: int) -> None:
        """Up to `changed` rows of `table` were just written (inside a write transaction):
        where the database plans queries from statistics that only a later maintenance
        pass would bring up to date, bring them up to date now if that is a large share of
        the table. By default nothing (SQLite plans without them, MySQL recomputes its own)."""

    # -- the catalog --------------------------------------------------------

    def table_names(self, conn: Connection) -> set[str]:
        raise NotImplementedError

    def table_exists(self, conn: Connection, name: str) -> bool:
        return name in self.table_names(conn)

    def column_names(self, conn: Connection, table: str) -> list[str]:
        raise NotImplementedError

    def column_kinds(self, conn: Connection, table: str) -> dict[str, str]:
        """`table`'s stored columns in order, each with the kind of value it takes: one of
        `COLUMN_KINDS` ("any": the column keeps whatever it is given, as SQLite's do).
        Generated columns (MySQL's one-active-apply emulation) are left out: the database
        computes them, so a copy of the table (`store migrate`) must not write them."""
        return {name: "any" for name in self.column_names(conn, table)}

    def schema_snapshot(self, conn: Connection, *, exclude_prefix: str = "setright_"
                        ) -> dict[str, Any]:
        """Tables, columns, indexes, constraints, views and triggers, as plain data."""
        raise NotImplementedError

    # -- reading without writing ---------------------------------

    def reader_catalog(self, conn: Connection, audit_table: str) -> ReaderCatalog:
        """The store's tables and its audit table's columns, for a reader's fresh connection
        (no session tables yet); a server answers in one round trip."""
        tables = self.table_names(conn)
        has_audit = self.table_exists(conn, audit_table)
        return ReaderCatalog(tables, self.column_names(conn, audit_table) if has_audit else None)

    def stand_in_tables(self, conn: Connection, names: Collection[str], build: SchemaBuilder,
                        key: str) -> None:
        """Make each table in `names`, which this read-only connection's store lacks, read
        as empty with the columns `build` gives it; visible to this session only, nothing
        written to the store. `key` names the schema `build` makes (it may be cached)."""
        raise NotImplementedError

    def shadow_table(self, conn: Connection, name: str, build: SchemaBuilder, key: str) -> None:
        """Give this read-only session a private, writable copy of table `name` (its rows and
        the columns `build` gives it) that its SQL reads and writes instead of the store's."""
        raise NotImplementedError

    # -- change scripts -----------------------------------------------------

    def split_statements(self, script: str) -> list[str]:
        raise NotImplementedError

    def statement_spans(self, script: str) -> list[tuple[int, str]]:
        """`split_statements`, each statement with the offset in `script` where it starts
        (for file:line in load errors). This default finds each statement's text in the
        script; a splitter that rewrites statements (e.g. MySQL's `DELIMITER`) gets the
        offset of the end of the previous one."""
        spans: list[tuple[int, str]] = []
        position = 0
        for statement in self.split_statements(script):
            found = script.find(statement, position)
            if found < 0:
                spans.append((position, statement))
            else:
                spans.append((found, statement))
                position = found + len(statement)
        return spans

    def needs_autocommit(self, statement: str) -> bool:
        """Whether the database refuses to run `statement` inside a transaction (PostgreSQL's
        `CREATE INDEX CONCURRENTLY`, `VACUUM`…): its change then runs non-transactionally."""
        return False

    def commits_implicitly(self, statement: str) -> bool:
        """Whether the database commits the open transaction when it runs `statement`
        (MySQL's DDL): its change then runs non-transactionally, one marker per statement."""
        return False


_REGISTRY: dict[str, type[DefaultImpl]] = {}


_BY_CONNECTION: dict[type, DefaultImpl] = {}


def register(cls: type[DefaultImpl]) -> type[DefaultImpl]:
    """Class decorator: make `cls` the implementation of its dialect `name`."""
    _REGISTRY[cls.name] = cls
    for kind in cls.connection_types:
        _BY_CONNECTION[kind] = cls()
    return cls


def impl_of(conn: Connection) -> DefaultImpl:
    """The implementation of the database `conn` is connected to.

    Store functions take a bare connection (a `Store.write()` transaction, or a
    connection a test opened itself); this is how they find the SQL that differs."""
    found = _BY_CONNECTION.get(type(conn))
    if found is not None:
        return found
    import setright.db.sqlite  # noqa: F401 - registers SqliteImpl (a stdlib connection)

    for kind, impl in list(_BY_CONNECTION.items()):
        if isinstance(conn, kind):
            _BY_CONNECTION[type(conn)] = impl
            return impl
    raise TypeError(f"no database implementation for {type(conn).__name__}")


def impl_for(url: DbUrl) -> DefaultImpl:
    """The implementation for `url`'s dialect (importing its module on first use)."""
    if url.dialect not in _REGISTRY:
        if url.dialect == "sqlite":
            import setright.db.sqlite  # noqa: F401 - registers SqliteImpl
        elif url.dialect == "postgresql":
            import setright.db.postgres  # noqa: F401 - registers PostgresImpl
        elif url.dialect == "mysql":
            import setright.db.mysql  # noqa: F401 - registers MysqlImpl
    cls = _REGISTRY.get(url.dialect)
    if cls is None:
        raise SetrightError(f"{url.shown}: {url.dialect} is not supported yet",
                            ["setright supports sqlite:///, postgresql:// and mysql:// URLs"])
    return cls()
