"""A MySQL/MariaDB database's schema as plain data, from `information_schema`.

The shape is `SqliteImpl.schema_snapshot`'s: tables → columns (type, nullable,
default, primary_key), indexes (columns, unique), foreign keys and whether a
CHECK constraint exists; views and triggers by name. Only the connection's
current database is read, and `setright_` tables (and their triggers) are
left out. Values are normalised where MySQL and MariaDB print them
differently (MariaDB's `'NULL'` default is None).
"""

from __future__ import annotations

from collections import defaultdict
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
