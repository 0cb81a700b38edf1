"""SQLite: the embedded default, through the standard library's `sqlite3`.

Writers run `BEGIN IMMEDIATE` (the database's write lock is taken up front, so
two guarded updates can never interleave), in WAL mode with
`synchronous=FULL`; readers open the file with `mode=ro` and never create it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from setright.db import sqlite_lexer
from setright.db import sqlite_store
from setright.db.impl import (
    Connection,
    DatabaseUnavailable,
    DefaultImpl,
    SchemaBuilder,
    register,
)
from setright.db.url import DbUrl

BUSY_TIMEOUT_MS = 5000
#: Helper threads a store statement's sorter may use: one per core beyond the first, up
#: to three. The first fold of a foreign million-row log is one sort (a fifth faster on
#: two cores); statements too small to spill their sort never start one.
SORTER_THREADS = max(0, min(3, (os.cpu_count() or 1) - 1))
#: 10000-01-01T00:00:00Z in epoch ms: SQLite's date functions stop before it.
_YEAR_10000_MS = 253_402_300_800_000


def open_writer(path: Path, *, require_wal: bool = False) -> sqlite3.Connection:
    """A writing connection to the file at `path` (created if missing): it waits up to
    `BUSY_TIMEOUT_MS` for another writer's lock, in WAL mode with `synchronous=FULL`.
    `require_wal`: refuse a file that cannot switch to WAL (a read-only medium).
    check_same_thread=False: a keeper thread may interrupt or renew."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                           check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = _switch_to_wal(conn)
        if require_wal and str(mode).lower() != "wal":  # pragma: no cover - read-only medium
            raise sqlite3.OperationalError(f"cannot switch to WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous = FULL")
    except BaseException:
        conn.close()
        raise
    return conn


def _switch_to_wal(conn: sqlite3.Connection) -> str:
    """`PRAGMA journal_mode = WAL`, waited for like any lock. SQLite takes the switch's lock
    without calling the busy handler: processes opening a new file at once (runners
    starting together on a fresh store) would otherwise see "database is locked"."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if (getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY
                    or time.monotonic() >= deadline):
                raise
            time.sleep(0.005)


@register
class SqliteImpl(DefaultImpl):
    name = "sqlite"
    transactional_ddl = True
    connection_types = (sqlite3.Connection,)

    def connect(self, url: DbUrl, *, read_only: bool = False, create: bool = False
                ) -> sqlite3.Connection:
        """Writers create the file (and its folder) when `create`; readers open it `mode=ro`
        (`immutable=1` where no `-shm` can be made, see `open_readonly`) and never create."""
        assert url.path is not None
        path = url.path
        try:
            found = path.is_file()
        except OSError as exc:   # a name too long for the file system, say
            raise DatabaseUnavailable(f"cannot open {url.shown}: {exc.strerror}",
                                      cause=str(exc.strerror)) from None
        if not found and (read_only or not create):
            raise DatabaseUnavailable(f"no database at {url.shown}", missing=True)
        conn: sqlite3.Connection | None = None
        try:
            if read_only:
                conn = open_readonly(path)
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = open_writer(path, require_wal=True)
        except (sqlite3.Error, OSError) as exc:
            if conn is not None:
                conn.close()
            raise DatabaseUnavailable(f"cannot open {url.shown}: {exc}", cause=str(exc)) from None
        return conn

    def prepare_store(self, conn: Connection, *, read_only: bool,
                      functions: Mapping[str, Callable[[Any], Any]],
                      timezone: str = "UTC") -> None:
        """Foreign keys on for writers; the store's Python functions (`audit_ms_sql`,
        `iso_from_ms_sql`, `error_summary_sql` call them) registered on the connection.
        `timezone` changes nothing: Flamingock writes integer ms on SQLite. Large sorts
        may use `SORTER_THREADS` helper threads."""
        if not read_only:
            conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA threads = {SORTER_THREADS}")
        self.register_functions(conn, functions)

    def begin(self, conn: Connection, *, write: bool) -> None:
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def in_transaction(self, conn: Connection) -> bool:
        return bool(getattr(conn, "in_transaction", False))

    def is_busy(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower()

    def is_integrity_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError)

    def is_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.Error)

    def is_read_only_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc).lower()

    def register_functions(self, conn: Connection, functions: dict[str, Any]) -> None:
        """Python scalar functions the store's SQL calls (SQLite runs them in-process)."""
        for name, function in functions.items():
            conn.create_function(name, 1, function, deterministic=True)  # type: ignore[attr-defined]

    # -- SQL that differs ----------------------------------------------------

    def row_order_sql(self, alias: str, key: str | None = None) -> str:
        return f"{alias}.rowid"

    def audit_ms_sql(self, conn: Connection, table: str, column: str = "created_at",
                     timezone: str | None = None) -> str:
        """Integer milliseconds (what setright and Flamingock's JDBC driver write) as they
        are, without a Python call; anything else through `setright_ms` (ISO-8601 or
        `yyyy-MM-dd HH:mm:ss.SSS`, read as UTC); NULL where it is no time."""
        return (f"CASE WHEN typeof({column}) = 'integer' THEN {column}"
                f" ELSE setright_ms({column}) END")

    def iso_from_ms_sql(self, expression: str) -> str:
        """In SQL for the years 1970–9999 (`strftime` writes them as `iso_from_ms` does),
        through `setright_iso` for anything else."""
        return (f"CASE WHEN typeof({expression}) = 'integer' AND {expression} >= 0"
                f" AND {expression} < {_YEAR_10000_MS}"
                f" THEN strftime('%Y-%m-%dT%H:%M:%S', {expression} / 1000, 'unixepoch')"
                f" || printf('.%03dZ', {expression} % 1000)"
                f" ELSE setright_iso({expression}) END")

    def error_summary_sql(self, expression: str) -> str:
        """No Python call for the rows without an error trace (most of them)."""
        return (f"CASE WHEN {expression} IS NULL OR {expression} = '' THEN NULL"
                f" ELSE setright_summary({expression}) END")

    # -- DDL for setright's own tables (through sqlite-utils) ------------------

    def audit_table_ddl(self, table: str, conn: Connection) -> str:
        return sqlite_store.audit_table_ddl(self.quote(table))

    def create_table(self, conn: Connection, name: str, columns: dict[str, type],
                     pk: Sequence[str], not_null: Sequence[str] = (),
                     autoincrement: str | None = None) -> None:
        """`autoincrement` needs nothing: a single INTEGER PRIMARY KEY is the rowid."""
        sqlite_store.create_table(conn, name, columns, pk, not_null)

    def create_index(self, conn: Connection, name: str, table: str, columns: Sequence[str],
                     *, unique: bool = False) -> None:
        sqlite_store.create_index(conn, name, table, columns, unique=unique)

    def create_one_active_index(self, conn: Connection, name: str, table: str, column: str,
                                state_column: str, states: Sequence[str]) -> None:
        values = ", ".join("'" + s.replace("'", "''") + "'" for s in states)
        conn.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {name} "
                     f"ON {table} ({column}) WHERE {state_column} IN ({values})")

    # -- reading without writing: the connection's TEMP schema -----------------

    def stand_in_tables(self, conn: Connection, names: Collection[str], build: SchemaBuilder,
                        key: str) -> None:
        sqlite_store.stand_in_tables(conn, names, build, key)

    def shadow_table(self, conn: Connection, name: str, build: SchemaBuilder, key: str) -> None:
        sqlite_store.shadow_table(conn, name, build, key)

    # -- the catalog --------------------------------------------------------

    def table_names(self, conn: Connection) -> set[str]:
        return {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}

    def table_exists(self, conn: Connection, name: str) -> bool:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                            (name,)).fetchone() is not None

    def column_names(self, conn: Connection, table: str) -> list[str]:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({self.quote(table)})")]

    def column_kinds(self, conn: Connection, table: str) -> dict[str, str]:
        """Every column takes any value (SQLite's type affinity converts, never refuses);
        generated columns (`table_xinfo` hidden 2 and 3) are left out."""
        return {row[1]: "any" for row in conn.execute(
            f"PRAGMA table_xinfo({self.quote(table)})") if row[6] in (0, None)}

    def schema_snapshot(self, conn: Connection, *, exclude_prefix: str = "setright_"
                        ) -> dict[str, Any]:
        """Every table (columns, indexes, foreign keys), view and trigger, from the catalog."""
        tables: dict[str, Any] = {}
        views: dict[str, str] = {}
        triggers: dict[str, str] = {}
        rows = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").fetchall()
        for kind, name, table, sql in rows:
            if name.startswith(exclude_prefix) or table.startswith(exclude_prefix):
                continue
            if kind == "table":
                tables[name] = self._table_snapshot(conn, name, sql)
            elif kind == "view":
                views[name] = _squash(sql)
            elif kind == "trigger":
                triggers[name] = _squash(sql)
        return {"tables": tables, "views": views, "triggers": triggers}

    def _table_snapshot(self, conn: Connection, table: str, sql: str | None) -> dict[str, Any]:
        q = self.quote(table)
        columns = {
            name: {"type": kind.upper(), "nullable": not notnull, "default": default,
                   "primary_key": bool(pk)}
            for _cid, name, kind, notnull, default, pk in conn.execute(f"PRAGMA table_info({q})")
        }
        indexes = {}
        for _seq, name, unique, _origin, _partial in conn.execute(f"PRAGMA index_list({q})"):
            cols = [r[2] for r in conn.execute(f"PRAGMA index_info({self.quote(name)})")]
            indexes[name] = {"columns": cols, "unique": bool(unique)}
        foreign_keys = sorted(
            f"{r[3]} -> {r[2]}({r[4]})" for r in conn.execute(f"PRAGMA foreign_key_list({q})"))
        checks = "CHECK" in (sql or "").upper()
        return {"columns": columns, "indexes": indexes, "foreign_keys": foreign_keys,
                "has_check": checks}

    # -- change scripts -----------------------------------------------------

    def split_statements(self, script: str) -> list[str]:
        """Where SQLite itself says a statement ends (`sqlite_lexer`)."""
        return sqlite_lexer.split_statements(script)

    def statement_spans(self, script: str) -> list[tuple[int, str]]:
        return sqlite_lexer.statement_spans(script)

    def needs_autocommit(self, statement: str) -> bool:
        """Never: every SQLite statement runs in the runner's transaction, as it always has
        (a `VACUUM` there fails and fails its change, unchanged behaviour)."""
        return False

    def advance_id_sequence(self, conn: Connection, table: str, id_column: str = "id") -> None:
        """Nothing to do: an INTEGER PRIMARY KEY takes max(rowid) + 1."""


def open_readonly(path: Path, *, leave_no_files: bool = False) -> sqlite3.Connection:
    """A `mode=ro` connection to an existing SQLite file (store or target); creates nothing.

    Raises `sqlite3.DatabaseError` when the file cannot be read (see `sqlite_store`)."""
    return sqlite_store.open_readonly(path, BUSY_TIMEOUT_MS / 1000,
                                      leave_no_files=leave_no_files)


def _squash(sql: str | None) -> str:
    return " ".join((sql or "").split())
