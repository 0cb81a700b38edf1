"""A PostgreSQL target's schema as plain data, for redrive drift checks.

Same shape as `SqliteImpl.schema_snapshot` — `{"tables", "views", "triggers"}`, each table
with `columns`, `indexes`, `foreign_keys` and `has_check` — plus what PostgreSQL adds:
per table `constraints` (name → type and definition) and per index `valid`
(`pg_index.indisvalid`: a failed `CREATE INDEX CONCURRENTLY` leaves an invalid index,
which is not the index the change meant to build) and `where` (a partial index).
Read from pg_catalog, for the connection's `current_schema()`, in one snapshot; objects
whose name (or table) starts with the excluded prefix are left out.
"""

from __future__ import annotations

from typing import Any

from setright.db.impl import Connection

_IN_SCHEMA = ("JOIN pg_namespace n ON n.oid = t.relnamespace"
              " WHERE n.nspname = current_schema()")

_COLUMNS = (
    "SELECT t.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,"
    " pg_get_expr(d.adbin, d.adrelid, true), a.attidentity, a.attgenerated,"
    " EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = t.oid AND x.indisprimary"
    "         AND a.attnum = ANY (x.indkey))"
    " FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid"
    " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    + _IN_SCHEMA +
    " AND t.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped"
    " ORDER BY t.relname, a.attnum")

_INDEXES = (
    "SELECT t.relname, i.relname, x.indisunique, x.indisvalid,"
    " pg_get_expr(x.indpred, x.indrelid, true),"
    " ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true)"
    "       FROM generate_series(1, x.indnkeyatts) AS k ORDER BY k)"
    " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
    " JOIN pg_class t ON t.oid = x.indrelid " + _IN_SCHEMA +
    " ORDER BY t.relname, i.relname")

_CONSTRAINTS = (
    "SELECT t.relname, c.conname, c.contype, pg_get_constraintdef(c.oid, true)"
    " FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid " + _IN_SCHEMA +
    " ORDER BY t.relname, c.conname")

_VIEWS = (
    "SELECT t.relname, t.relkind, pg_get_viewdef(t.oid, true) FROM pg_class t "
    + _IN_SCHEMA + " AND t.relkind IN ('v', 'm') ORDER BY t.relname")

_TRIGGERS = (
    "SELECT g.tgname, t.relname, pg_get_triggerdef(g.oid, true)"
    " FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid " + _IN_SCHEMA +
    " AND NOT g.tgisinternal ORDER BY t.relname, g.tgname")

CONSTRAINT_TYPES = {"p": "PRIMARY KEY", "u": "UNIQUE", "f": "FOREIGN KEY", "c": "CHECK",
                    "x": "EXCLUDE", "t": "TRIGGER"}


def schema_snapshot(conn: Connection, exclude_prefix: str = "setright_") -> dict[str, Any]:
    """Tables, columns, indexes, constraints, views and triggers of the current schema."""
    own = not bool(getattr(conn, "in_transaction", False))
    if own:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        return _read(conn, exclude_prefix)
    finally:
        if own:
            conn.execute("ROLLBACK")


def _read(conn: Connection, prefix: str) -> dict[str, Any]:
    def skip(*names: str) -> bool:
        return any(name.startswith(prefix) for name in names)

    tables: dict[str, Any] = {}
    for table, column, kind, nullable, default, identity, generated, pk in conn.execute(
            _COLUMNS):
        if skip(table):
            continue
        entry = tables.setdefault(table, {"columns": {}, "indexes": {}, "constraints": {},
                                          "foreign_keys": [], "has_check": False})
        entry["columns"][column] = {"type": kind, "nullable": bool(nullable),
                                    "default": _default(default, identity, generated),
                                    "primary_key": bool(pk)}
    for table, index, unique, valid, where, columns in conn.execute(_INDEXES):
        if table in tables:
            tables[table]["indexes"][index] = {"columns": list(columns), "unique": bool(unique),
                                               "valid": bool(valid), "where": where}
    for table, name, kind, definition in conn.execute(_CONSTRAINTS):
        if table not in tables:
            continue
        entry = tables[table]
        entry["constraints"][name] = {"type": CONSTRAINT_TYPES.get(kind, kind),
                                      "definition": definition}
        if kind == "f":
            entry["foreign_keys"].append(definition)
        entry["has_check"] = entry["has_check"] or kind == "c"
    for entry in tables.values():
        entry["foreign_keys"].sort()
    views = {name: ("MATERIALIZED " if kind == "m" else "") + _squash(definition)
             for name, kind, definition in conn.execute(_VIEWS) if not skip(name)}
    triggers: dict[str, str] = {}
    for name, table, definition in conn.execute(_TRIGGERS):
        if skip(name, table):
            continue
        key = name if name not in triggers else f"{name} ON {table}"
        triggers[key] = _squash(definition)
    return {"tables": tables, "views": views, "triggers": triggers}


def _default(default: str | None, identity: str, generated: str) -> str | None:
    if identity:
        return "GENERATED ALWAYS AS IDENTITY" if identity == "a" else \
            "GENERATED BY DEFAULT AS IDENTITY"
    if generated:
        return f"GENERATED ALWAYS AS ({default}) STORED"
    return default


def _squash(sql: str | None) -> str:
    return " ".join((sql or "").split())
