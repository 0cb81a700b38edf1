"""MySQL ≥ 8 and MariaDB ≥ 10.6 (InnoDB), through PyMySQL (`pip install 'setright[mysql]'`).

Decisions:

* **Isolation.** PyMySQL runs with autocommit on; transactions are explicit.
  A write transaction first takes the session lock `setright.write:<db>`
  (`GET_LOCK`, released at COMMIT/ROLLBACK) — setright's writers queue exactly
  as behind SQLite's `BEGIN IMMEDIATE`, so they never deadlock each other —
  and then runs at `SERIALIZABLE`, where InnoDB turns every plain SELECT into a
  locking read: a read-check-then-write cannot be defeated even by a writer
  that skips the lock (a Flamingock runner appending to the audit log), and a
  guarded `UPDATE … WHERE state = ?` is atomic anyway. Deadlocks (1213), lock
  wait timeouts (1205) and a write lock not had in time are `is_busy`.
  Readers get `REPEATABLE READ` with `START TRANSACTION WITH CONSISTENT
  SNAPSHOT, READ ONLY`: one snapshot, no locks.
* **Row counts** are rows *matched* (CLIENT_FOUND_ROWS), as on SQLite and
  PostgreSQL: a guarded update that writes the value already there counts 1.
* **Exact ids**: setright's tables (and the audit log and target tables it
  creates) use a binary NO PAD collation, `utf8mb4_nopad_bin` on MariaDB and
  `utf8mb4_0900_bin` on MySQL: `Foo` is not `foo`, and `id ` is not `id`, as
  on SQLite and PostgreSQL (`utf8mb4_bin` ignores trailing spaces; a server's
  default collation ignores case too).
* **Sessions**: utf8mb4 with `utf8mb4_bin`, `time_zone
  '+00:00'`, and for the store `sql_mode` = `STORE_SQL_MODE` (strict, plus
  `ANSI_QUOTES` and `PIPES_AS_CONCAT` so portable SQL with "quoted" names and
  `||` means what it means on SQLite/PostgreSQL). Targets keep the server's
  mode minus `ANSI_QUOTES`/`NO_BACKSLASH_ESCAPES`, so the splitter reads
  quotes exactly as the server does.
* **Keys**: InnoDB with `ROW_FORMAT=DYNAMIC` allows 3072-byte keys, so key
  strings are `VARCHAR(255)` (4 bytes a character: three in one key fit);
  other strings `LONGTEXT`, as in Flamingock's MySQL DDL.
* **Names**: table names are case-sensitive where the server says so
  (`lower_case_table_names = 0`, Linux): `flamingockAuditLog` stays as
  written. Columns and indexes are case-insensitive, as in MySQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from setright.db import mysql_lex, mysql_store
from setright.db.mysql_store import flamingock_audit_ddl, text_ms_sql  # noqa: F401 - re-exported
from setright.db.impl import Connection, DefaultImpl, SchemaBuilder, register
from setright.db.mysql_catalog import MysqlCatalog
from setright.db.session_tables import TempBuilder
from setright.db.mysql_conn import (  # noqa: F401 - re-exported
    MysqlConnection,
    WriteLockTimeout,
    connect_raw,
    driver,
    unavailable,
)
from setright.db.url import DbUrl
from setright.errors import SetrightError

STORE_SQL_MODE = ("ANSI_QUOTES,PIPES_AS_CONCAT,STRICT_TRANS_TABLES,STRICT_ALL_TABLES,"
                  "NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION")
WRITE_LOCK_TIMEOUT_S = 10
LOCK_WAIT_TIMEOUT_S = 10
STORE_READ_TIMEOUT_S = 300
KEY_TYPE = "VARCHAR(255)"


def exact_collation(raw: Any) -> str:
    """The binary NO PAD collation of this server (a PyMySQL connection): every character
    counts, trailing spaces included."""
    return "utf8mb4_nopad_bin" if "mariadb" in raw.get_server_info().lower() else "utf8mb4_0900_bin"


def table_options(collation: str) -> str:
    """What every table setright creates on MySQL/MariaDB ends with."""
    return f" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={collation} ROW_FORMAT=DYNAMIC"
#: Denied (1142 command, 1143 column, 1044 database, 1227 privilege), read-only transaction
#: (1792) or server (1290).
READ_ONLY_CODES = {1142, 1143, 1044, 1227, 1792, 1290}
BUSY_CODES = {1205, 1213}
_TEXT_TYPES = {"tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob",
               "longblob", "json"}


class MysqlTempBuilder(TempBuilder, MysqlConnection):
    """A reader's connection while a schema builder makes its TEMPORARY stand-ins."""

    create_temp = "CREATE TEMPORARY TABLE"
    alter_prefix = ""


@register
class MysqlImpl(MysqlCatalog, DefaultImpl):
    name = "mysql"
    transactional_ddl = False
    connection_types = (MysqlConnection,)
    begin_attempts = 3
    session_tables_in_snapshot = False

    # -- connecting and transactions ---------------------------------------

    def connect(self, url: DbUrl, *, read_only: bool = False, create: bool = False,
                target: bool = False) -> MysqlConnection:
        """Open the database; `create` makes a missing database (exact collation), readers never.

        `target`: a change target (the server's sql_mode, no read timeout)."""
        pymysql = driver()
        timeout = None if target else STORE_READ_TIMEOUT_S
        try:
            try:
                raw = connect_raw(url, database=url.database, read_timeout=timeout)
            except pymysql.err.OperationalError as exc:
                if not (create and not read_only and exc.args and exc.args[0] == 1049):
                    raise
                bare = connect_raw(url, database=None, read_timeout=timeout)
                try:
                    bare.cursor().execute(
                        f"CREATE DATABASE IF NOT EXISTS {self.quote(url.database or '')}"
                        f" CHARACTER SET utf8mb4 COLLATE {exact_collation(bare)}")
                finally:
                    bare.close()
                raw = connect_raw(url, database=url.database, read_timeout=timeout)
            conn = MysqlConnection(raw, url, read_only=read_only)
            conn.execute("SET time_zone = '+00:00'")
            conn.execute(f"SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_TIMEOUT_S}")
            mode = target_sql_mode(conn) if target else STORE_SQL_MODE
            conn.execute("SET SESSION sql_mode = ?", (mode,))
            if read_only:
                conn.execute("SET SESSION TRANSACTION READ ONLY")
        except pymysql.err.Error as exc:
            raise unavailable(url, exc) from None
        return conn

    def begin(self, conn: Connection, *, write: bool) -> None:
        assert isinstance(conn, MysqlConnection)
        if not write:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            return
        name = write_lock_name(conn.url.database or "")
        got = conn.execute("SELECT GET_LOCK(?, ?)", (name, WRITE_LOCK_TIMEOUT_S)).fetchone()[0]
        if got != 1:
            raise WriteLockTimeout(f"the store {conn.url.where} is busy: another setright "
                                   f"writer held it for {WRITE_LOCK_TIMEOUT_S}s")
        conn.write_lock = name
        try:
            conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
            # A read-only session keeps its READ ONLY default: its writes fail, as they should.
            conn.execute("START TRANSACTION" if conn.read_only else "START TRANSACTION READ WRITE")
        except BaseException:
            self._release(conn)
            raise

    def commit(self, conn: Connection) -> None:
        try:
            conn.execute("COMMIT")
        finally:
            self._release(conn)

    def rollback(self, conn: Connection) -> None:
        try:
            conn.execute("ROLLBACK")
        finally:
            self._release(conn)

    @staticmethod
    def _release(conn: Connection) -> None:
        assert isinstance(conn, MysqlConnection)
        if conn.write_lock is not None:
            name, conn.write_lock = conn.write_lock, None
            try:
                conn.execute("DO RELEASE_LOCK(?)", (name,))
            except Exception:  # noqa: BLE001 - a lost session has released it already
                pass

    def in_transaction(self, conn: Connection) -> bool:
        return bool(getattr(conn, "in_transaction", False))

    def is_busy(self, exc: BaseException) -> bool:
        if isinstance(exc, WriteLockTimeout):
            return True
        return self.is_error(exc) and bool(exc.args) and exc.args[0] in BUSY_CODES

    def is_integrity_error(self, exc: BaseException) -> bool:
        try:
            import pymysql
        except ImportError:  # pragma: no cover
            return False
        return isinstance(exc, pymysql.err.IntegrityError)

    def is_error(self, exc: BaseException) -> bool:
        try:
            import pymysql
        except ImportError:  # pragma: no cover
            return False
        return isinstance(exc, pymysql.err.Error)

    def is_read_only_error(self, exc: BaseException) -> bool:
        """Denied (1142 command, 1143 column, 1044 database, 1227 privilege) or a read-only
        transaction (1792)."""
        return self.is_error(exc) and bool(exc.args) and exc.args[0] in READ_ONLY_CODES

    def error_line(self, exc: BaseException) -> str:
        if self.is_error(exc) and len(exc.args) > 1:
            return f"{exc.args[0]}: {exc.args[1]}"
        return super().error_line(exc)

    # -- SQL that differs ----------------------------------------------------

    @staticmethod
    def quote(identifier: str) -> str:
        return "`" + identifier.replace("`", "``") + "`"

    def upsert_sql(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        """`ON DUPLICATE KEY UPDATE c = VALUES(c)`: the form MySQL 8 and MariaDB both take
        (MySQL's `AS new` alias is unknown to MariaDB). It fires on any unique key, so
        use it on tables whose only unique key is `key`."""
        updates = [f"{self.quote(c)} = VALUES({self.quote(c)})" for c in columns if c not in key]
        return self._insert(table, columns) + " ON DUPLICATE KEY UPDATE " + ", ".join(
            updates or [f"{self.quote(key[0])} = {self.quote(key[0])}"])

    def upsert_select_sql(self, table: str, columns: Sequence[str], key: Sequence[str],
                          select: str, newer: Sequence[str]) -> str:
        return mysql_store.upsert_select_sql(self.quote, table, columns, key, select, newer)

    def exact_text_sql(self, expression: str) -> str:
        """As bytes: a foreign Flamingock table may fold case and ignore trailing spaces."""
        return f"CAST({expression} AS BINARY)"

    def integer_sql(self, expression: str) -> str:
        return f"CAST({expression} AS SIGNED)"

    def insert_ignore_sql(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        """Not `INSERT IGNORE`, which also turns NOT NULL, truncation and foreign-key errors
        into warnings. Its row count is 1 whether inserted or not (rows matched)."""
        return self._insert(table, columns) + (
            f" ON DUPLICATE KEY UPDATE {self.quote(key[0])} = {self.quote(key[0])}")

    def _insert(self, table: str, columns: Sequence[str]) -> str:
        names = ", ".join(self.quote(c) for c in columns)
        return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)})"

    # -- DDL for setright's own tables ------------------------------------------

    def column_type(self, kind: type, *, key: bool = False) -> str:
        if kind is str:
            return KEY_TYPE if key else "LONGTEXT"
        return {int: "BIGINT", float: "DOUBLE"}[kind]

    def create_table(self, conn: Connection, name: str, columns: dict[str, type],
                     pk: Sequence[str], not_null: Sequence[str] = (),
                     autoincrement: str | None = None) -> None:
        parts = []
        for column, kind in columns.items():
            if column == autoincrement:
                parts.append(f"{self.quote(column)} BIGINT NOT NULL AUTO_INCREMENT")
                continue
            sql = f"{self.quote(column)} {self.column_type(kind, key=column in pk)}"
            parts.append(sql + (" NOT NULL" if column in not_null or column in pk else ""))
        parts.append(f"PRIMARY KEY ({', '.join(self.quote(c) for c in pk)})")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {self.quote(name)} ({', '.join(parts)})"
                     + table_options(conn.exact_collation))

    def create_index(self, conn: Connection, name: str, table: str, columns: Sequence[str],
                     *, unique: bool = False) -> None:
        """MySQL 8 has no CREATE INDEX IF NOT EXISTS: the catalog is asked first.

        A text column gets a 255-character prefix in a plain index; a unique index
        over a text column is refused (its uniqueness would be the prefix's)."""
        if self.index_exists(conn, table, name):
            return
        types = self._column_types(conn, table)
        keys = []
        for column in columns:
            if types.get(column.lower(), "") in _TEXT_TYPES:
                if unique:
                    raise SetrightError(f"unique index {name}: {table}.{column} is a text column",
                                        ["declare it as a key column (VARCHAR) on MySQL"])
                keys.append(f"{self.quote(column)}(255)")
            else:
                keys.append(self.quote(column))
        try:
            conn.execute(f"CREATE {'UNIQUE ' if unique else ''}INDEX {self.quote(name)}"
                         f" ON {self.quote(table)} ({', '.join(keys)})")
        except Exception as exc:
            if not (self.is_error(exc) and exc.args and exc.args[0] == 1061):
                raise  # 1061: another process created it a moment ago

    #: InnoDB indexes every row, NULL keys too: `create_partial_index` makes a plain index
    partial_indexes = False

    def create_partial_index(self, conn: Connection, name: str, table: str,
                             columns: Sequence[str], where: str) -> None:
        """No partial indexes in MySQL/MariaDB (and a generated column would index its NULLs
        all the same): the plain index, which answers the same queries."""
        self.create_index(conn, name, table, columns)

    def drop_index(self, conn: Connection, name: str, table: str) -> None:
        if self.index_exists(conn, table, name):
            conn.execute(f"DROP INDEX {self.quote(name)} ON {self.quote(table)}")

    def create_one_active_index(self, conn: Connection, name: str, table: str, column: str,
                                state_column: str, states: Sequence[str]) -> None:
        """No partial indexes in MySQL: a stored generated column `active_<column>` holds
        `column` while the row's state is in `states` and NULL otherwise, and a UNIQUE
        index on it (NULLs never collide). The column is INVISIBLE where the server
        allows, so `SELECT *` and column-less INSERTs do not see it."""
        if isinstance(conn, MysqlTempBuilder):
            return  # a reader's empty stand-in needs no index
        generated = f"active_{column}"
        types = self._column_types(conn, table)
        if generated.lower() not in types:
            listed = ", ".join(_literal(s) for s in states)
            source = self._column_sql_type(conn, table, column)
            base = (f"ALTER TABLE {self.quote(table)} ADD COLUMN {self.quote(generated)} {source}"
                    f" GENERATED ALWAYS AS (CASE WHEN {self.quote(state_column)} IN ({listed})"
                    f" THEN {self.quote(column)} END) STORED")
            try:
                conn.execute(base + " INVISIBLE")
            except Exception as exc:
                if not (self.is_error(exc) and exc.args and exc.args[0] == 1064):
                    raise
                conn.execute(base)  # MySQL before 8.0.23 has no invisible columns
        self.create_index(conn, name, table, [generated], unique=True)

    def _column_sql_type(self, conn: Connection, table: str, column: str) -> str:
        row = next((r for r in conn.execute(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?",
            (table, column)) if self._same_table(conn, r[0], table)), None)
        if row is None:
            raise SetrightError(f"table {table} has no column {column}")
        return KEY_TYPE if row[3] in _TEXT_TYPES else str(row[2]).upper()

    # -- the audit log's clock -------------------------------------------------

    def audit_table_ddl(self, table: str, conn: Connection) -> str:
        """Flamingock's MySQL layout, with `created_at` keeping milliseconds (DATETIME(3),
        which a Flamingock runner writes just as well) for setright's own audit log, and
        ids that compare exactly."""
        return (flamingock_audit_ddl(table, created_at="DATETIME(3)")
                + table_options(conn.exact_collation))

    def iso_from_ms_sql(self, expression: str) -> str:
        return mysql_store.iso_from_ms_sql(expression)

    def error_summary_sql(self, expression: str) -> str:
        return mysql_store.error_summary_sql(expression)

    def audit_write_values(self, conn: Connection, table: str, values: Mapping[str, Any],
                           created_ms: int) -> dict[str, Any]:
        return mysql_store.audit_write_values(mysql_store.column_types(conn, table), values,
                                              created_ms, getattr(conn, "audit_timezone", "UTC"))

    def stand_in_tables(self, conn: Connection, names: Collection[str], build: SchemaBuilder,
                        key: str) -> None:
        mysql_store.stand_in_tables(conn, MysqlTempBuilder, names, build)

    def shadow_table(self, conn: Connection, name: str, build: SchemaBuilder, key: str) -> None:
        mysql_store.shadow_table(conn, name)

    def audit_ms_sql(self, conn: Connection, table: str, column: str = "created_at",
                     timezone: str | None = None) -> str:
        """Epoch ms of `column` (-1 where it holds nothing readable).

        BIGINT: as is. TIMESTAMP/DATETIME: zone-less wall-clock time in `timezone`
        (TIMESTAMPs read in this session's +00:00, i.e. as a UTC session wrote
        them); the offset comes from `zonecase`, not from the server's tz tables.
        Text: integer ms, or ISO-8601/`yyyy-MM-dd HH:mm:ss[.SSS]` read as UTC unless it
        carries `Z`/±hh:mm — the same rule as the SQLite store's `ms_from_any`."""
        timezone = timezone or getattr(conn, "audit_timezone", "UTC")
        col = ".".join(self.quote(part) for part in column.split("."))
        data_type = self._column_types(conn, table).get(column.rsplit(".", 1)[-1].lower())
        return mysql_store.audit_ms_sql(col, data_type, timezone)

    has_clock = True

    def now_ms(self, conn: Connection) -> int | None:
        """The server's clock (the session is at +00:00, so no zone enters)."""
        return int(conn.execute("SELECT CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)"
                                ).fetchone()[0])

    def created_at_step_ms(self, conn: Connection, table: str) -> int:
        """1000 for a TIMESTAMP/DATETIME without fractions (Flamingock's), 10**(3-fsp) else."""
        for name, column, data_type, precision in conn.execute(
                "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, DATETIME_PRECISION"
                " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                " AND TABLE_NAME = ? AND COLUMN_NAME = 'created_at'", (table,)):
            if self._same_table(conn, name, table) and data_type in ("timestamp", "datetime"):
                return 10 ** max(0, 3 - int(precision or 0))
        return 1

    # -- change scripts -----------------------------------------------------

    def split_statements(self, script: str) -> list[str]:
        return mysql_lex.split_statements(script)

    @staticmethod
    def first_keyword(statement: str) -> str:
        return mysql_lex.first_keyword(statement)

    def commits_implicitly(self, statement: str) -> bool:
        return mysql_lex.commits_implicitly(statement)

    @staticmethod
    def ddl_effect(statement: str) -> mysql_lex.DdlEffect | None:
        return mysql_lex.ddl_effect(statement)


def write_lock_name(database: str) -> str:
    """`GET_LOCK` names are at most 64 characters; long database names are hashed."""
    name = f"setright.write:{database}"
    return name if len(name) <= 64 else "setright.write:" + hashlib.sha1(
        database.encode()).hexdigest()


def target_sql_mode(conn: MysqlConnection) -> str:
    """The server's sql_mode without the two flags that change how quotes are read."""
    mode = str(conn.execute("SELECT @@GLOBAL.sql_mode").fetchone()[0] or "")
    return ",".join(m for m in mode.split(",")
                    if m and m not in ("ANSI_QUOTES", "NO_BACKSLASH_ESCAPES", "ANSI"))


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
