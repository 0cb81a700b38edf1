"""What a MySQL/MariaDB database's catalog says, from `information_schema`: its schema
as plain data (`schema_snapshot`), and `MysqlImpl`'s catalog hooks (`MysqlCatalog`).

The snapshot's shape is `SqliteImpl.schema_snapshot`'s: tables → columns (type, nullable,
default, primary_key), indexes (columns, unique), foreign keys and whether a
CHECK constraint exists; views and triggers by name. Only the connection's
current database is read, and `setright_` tables (and their triggers) are
left out. Values are normalised where MySQL and MariaDB print them
differently (MariaDB's `'NULL'` default is None).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from setright.db.impl import Connection


def schema_snapshot(conn: Connection, *, exclude_prefix: str = "setright_") -> dict[str, Any]:
    def keep(name: str) -> bool:
        return not name.startswith(exclude_prefix)

    tables: dict[str, Any] = {}
    for (name,) in conn.execute(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
            " AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"):
        if keep(name):
            tables[name] = {"columns": {}, "indexes": {}, "foreign_keys": [], "has_check": False}

    for table, column, kind, nullable, default, key, extra in conn.execute(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, COLUMN_KEY,"
            " EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
            " ORDER BY TABLE_NAME, ORDINAL_POSITION"):
        if table in tables:
            tables[table]["columns"][column] = {
                "type": _type(kind, extra), "nullable": nullable == "YES",
                "default": _default(default), "primary_key": key == "PRI"}

    index_columns: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    unique: dict[tuple[str, str], bool] = {}
    for table, index, non_unique, seq, column, expression in _statistics(conn):
        if table in tables:
            index_columns[table, index].append((int(seq), column or f"({expression})"))
            unique[table, index] = not int(non_unique)
    for (table, index), cols in sorted(index_columns.items()):
        tables[table]["indexes"][index] = {"columns": [c for _, c in sorted(cols)],
                                           "unique": unique[table, index]}

    for table, column, ref_table, ref_column in conn.execute(
            "SELECT TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME"
            " FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE()"
            " AND REFERENCED_TABLE_NAME IS NOT NULL"):
        if table in tables:
            tables[table]["foreign_keys"].append(f"{column} -> {ref_table}({ref_column})")
    for table in tables.values():
        table["foreign_keys"].sort()

    for (table,) in conn.execute(
            "SELECT TABLE_NAME FROM information_schema.TABLE_CONSTRAINTS"
            " WHERE CONSTRAINT_SCHEMA = DATABASE() AND CONSTRAINT_TYPE = 'CHECK'"):
        if table in tables:
            tables[table]["has_check"] = True

    views = {name: _squash(body) for name, body in conn.execute(
        "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS"
        " WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME") if keep(name)}
    triggers = {
        name: _squash(f"{timing} {event} ON {table} FOR EACH ROW {body}")
        for name, timing, event, table, body in conn.execute(
            "SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, EVENT_OBJECT_TABLE,"
            " ACTION_STATEMENT FROM information_schema.TRIGGERS"
            " WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY TRIGGER_NAME")
        if keep(name) and keep(table)}
    return {"tables": tables, "views": views, "triggers": triggers}


def _statistics(conn: Connection) -> list[tuple[Any, ...]]:
    """Index rows; MySQL 8 names functional key parts in EXPRESSION, MariaDB has no such column."""
    base = ("SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, {}"
            " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()")
    has_expression = conn.execute(
        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'information_schema'"
        " AND TABLE_NAME = 'STATISTICS' AND COLUMN_NAME = 'EXPRESSION'").fetchone()[0]
    return list(conn.execute(base.format("EXPRESSION" if has_expression else "NULL")))


def _type(kind: Any, extra: Any) -> str:
    text = str(kind).upper()
    extra = str(extra or "").upper()
    if "GENERATED" in extra or "VIRTUAL" in extra or "PERSISTENT" in extra or "STORED" in extra:
        text += " GENERATED"
    return text


def _default(value: Any) -> Any:
    if value is None or value == "NULL":
        return None
    return str(value)


def _squash(sql: Any) -> str:
    return " ".join(str(sql or "").split())


class MysqlCatalog:
    """`MysqlImpl`'s catalog hooks (a base of it): what information_schema and `SHOW
    COLUMNS` say of tables, columns and indexes, with names compared as the server does."""

    quote: Callable[[str], str]

    def _lower_case_names(self, conn: Connection) -> bool:
        return int(conn.execute("SELECT @@lower_case_table_names").fetchone()[0]) != 0

    def _same_table(self, conn: Connection, found: str, wanted: str) -> bool:
        """information_schema compares names case-insensitively; the server may not."""
        return found == wanted or (found.lower() == wanted.lower()
                                   and self._lower_case_names(conn))

    def table_names(self, conn: Connection) -> set[str]:
        return {row[0] for row in conn.execute(
            "SELECT TABLE_NAME FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'")}

    def table_exists(self, conn: Connection, name: str) -> bool:
        return any(self._same_table(conn, row[0], name) for row in conn.execute(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
            " AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME = ?", (name,)))

    def column_names(self, conn: Connection, table: str) -> list[str]:
        """The columns of the table SQL naming `table` would use: a session's TEMPORARY
        table first (which information_schema does not list), as MySQL resolves names."""
        return [name for name, _type in self._show_columns(conn, table)]

    def _show_columns(self, conn: Connection, table: str) -> list[tuple[str, str]]:
        if not self.table_exists(conn, table) and not self._temporary(conn, table):
            return []
        return [(str(row[0]), str(row[1].decode() if isinstance(row[1], bytes) else row[1]))
                for row in conn.execute(f"SHOW COLUMNS FROM {self.quote(table)}").fetchall()]

    def _temporary(self, conn: Connection, table: str) -> bool:
        """Whether this session has a TEMPORARY table `table` (asked without an error)."""
        return table.lower() in {n.lower() for n in getattr(conn, "session_tables", ())}

    def column_kinds(self, conn: Connection, table: str) -> dict[str, str]:
        """Kinds from `DATA_TYPE`; generated columns (the `active_<column>` of
        `create_one_active_index`) left out. `DEFAULT_GENERATED` only marks a column
        with an expression default (`DEFAULT CURRENT_TIMESTAMP`): it is stored."""
        kinds: dict[str, str] = {}
        for name, column, data_type, extra, expression in conn.execute(
                "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, EXTRA, GENERATION_EXPRESSION"
                " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                " AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", (table,)):
            extra = str(extra or "").upper()
            generated = (bool(expression) and "DEFAULT_GENERATED" not in extra) or any(
                word in extra for word in ("VIRTUAL GENERATED", "STORED GENERATED", "PERSISTENT"))
            if self._same_table(conn, name, table) and not generated:
                kinds[column] = _MYSQL_KINDS.get(str(data_type).lower(), "any")
        return kinds

    def _column_types(self, conn: Connection, table: str) -> dict[str, str]:
        return {name.lower(): kind.split("(")[0].split()[0].lower()
                for name, kind in self._show_columns(conn, table)}

    def index_exists(self, conn: Connection, table: str, index: str) -> bool:
        return any(self._same_table(conn, row[0], table) for row in conn.execute(
            "SELECT TABLE_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()"
            " AND TABLE_NAME = ? AND INDEX_NAME = ?", (table, index)))

    def schema_snapshot(self, conn: Connection, *, exclude_prefix: str = "setright_"
                        ) -> dict[str, Any]:
        return schema_snapshot(conn, exclude_prefix=exclude_prefix)


#: `DATA_TYPE` → `column_kinds` kinds (TINYINT(1) flags are integers: PyMySQL reads 0/1).
_MYSQL_KINDS = {
    **{t: "integer" for t in ("tinyint", "smallint", "mediumint", "int", "bigint")},
    **{t: "real" for t in ("decimal", "float", "double")},
    **{t: "text" for t in ("char", "varchar", "tinytext", "text", "mediumtext", "longtext")},
    "timestamp": "timestamp", "datetime": "timestamp",
}
