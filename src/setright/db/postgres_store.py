"""What the audit store does differently on PostgreSQL: time as SQL, session tables for readers.

`PostgresImpl` delegates here; nothing outside `setright.db` calls these directly.

* Audit times. Flamingock's PostgreSQL audit log keeps `created_at` as a zone-less
  `TIMESTAMP` holding the writing JVM's local time, read in `store.timezone`; setright
  writes its rows in the same form (the epoch ms it chose, as that zone's wall-clock time),
  so the fold reads every row the same way.
* Readers. A reader's connection is read-only (`default_transaction_read_only`), and a
  read-only transaction may not create tables, not even TEMP ones. So what a reader needs
  in its session — empty stand-ins for tables the store lacks, a private copy of the
  change-state cache — is created before its snapshot begins, in a short read-write
  transaction that touches nothing but the session's own `pg_temp` schema (which
  PostgreSQL searches before the store's). A role with only SELECT (and the TEMP
  privilege every role has by default on a database) can therefore read.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from setright.db.impl import Connection, SchemaBuilder

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Bound on the summary of an error trace (as `store.audit.error_summary`).
SUMMARY_LIMIT = 160


def literal(value: str) -> str:
    """A standard SQL string literal (for DDL and expressions, where parameters cannot go)."""
    return "'" + value.replace("'", "''") + "'"


def iso_from_ms_sql(expression: str) -> str:
    """Epoch ms as `2026-11-22T12:00:00.000Z` (UTC, milliseconds), NULL for NULL."""
    instant = f"(timestamptz 'epoch' + ({expression}) * interval '1 millisecond')"
    return (f"to_char({instant} AT TIME ZONE 'UTC',"
            f" 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")


def error_summary_sql(expression: str) -> str:
    """The first non-blank line of a trace, stripped, cut to 160 characters with "…";
    NULL for a NULL or empty trace, '' for one that is only white space."""
    line = f"btrim(substring({expression} from '[^\\r\\n]*[^\\s][^\\r\\n]*'), E' \\t\\r\\n\\f\\v')"
    cut = (f"CASE WHEN char_length({line}) <= {SUMMARY_LIMIT} THEN {line}"
           f" ELSE left({line}, {SUMMARY_LIMIT - 1}) || '…' END")
    return (f"(CASE WHEN {expression} IS NULL OR {expression} = '' THEN NULL"
            f" ELSE coalesce({cut}, '') END)")


def audit_time_value(kind: str | None, ms: int, timezone: str) -> Any:
    """What to bind for epoch ms `ms` in an audit time column of type `kind`."""
    instant = _EPOCH + timedelta(milliseconds=ms)
    if kind == "timestamp without time zone":
        return instant.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    if kind == "timestamp with time zone":
        return instant
    if kind in ("text", "character varying", "character"):
        return str(ms)
    return ms


def column_types(conn: Any, table: str, lookup: Any) -> dict[str, str]:
    """The audit table's column types, asked once per connection (they do not change)."""
    cache = conn.__dict__.setdefault("_audit_types", {})
    if table not in cache:
        cache[table] = lookup(conn, table)
    return cache[table]  # type: ignore[no-any-return]


def audit_write_values(types: dict[str, str], values: dict[str, Any], created_ms: int,
                       timezone: str) -> dict[str, Any]:
    """`values` in the column types: the time as the column keeps it, BOOLEAN flags as
    booleans, integer columns from the digits a copied row may hold."""
    out = dict(values)
    out["created_at"] = audit_time_value(types.get("created_at"), created_ms, timezone)
    for name, value in values.items():
        kind = types.get(name)
        if value is None or name == "created_at":
            continue
        if kind == "boolean" and not isinstance(value, bool):
            out[name] = bool(int(value)) if str(value).lstrip("-").isdigit() else bool(value)
        elif kind in ("smallint", "integer", "bigint") and isinstance(value, (bool, str)):
            out[name] = int(value)
        elif kind in ("text", "character varying") and not isinstance(value, str):
            out[name] = str(value)
    return out


# -- session tables for readers ---------------------------------------------------


class TempBuilder:
    """Runs a store schema builder so that it makes TEMP tables of `names` only.

    `CREATE TABLE` of a listed table becomes `CREATE TEMP TABLE`; an `ALTER TABLE` of one
    goes to its TEMP copy; every other write (indexes, other tables, seed rows) is left
    out, and catalog reads pass through — the builder then sees the store as it is."""

    create_temp = "CREATE TEMP TABLE"
    alter_prefix = "pg_temp."

    def __init__(self, conn: Any, names: Collection[str]) -> None:
        self.conn = conn
        self.names = {name.lower() for name in names}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        words = sql.split()
        head = " ".join(words[:2]).upper()
        if head == "CREATE TABLE":
            table = words[5] if words[2:5] == ["IF", "NOT", "EXISTS"] else words[2]
            if _bare(table.split("(")[0]) in self.names:
                return self.conn.execute(self.create_temp + sql.split("TABLE", 1)[1],
                                         parameters)
            return _Nothing()
        if head == "ALTER TABLE":
            if _bare(words[2]) in self.names:
                return self.conn.execute(f"ALTER TABLE {self.alter_prefix}{words[2]} "
                                         + sql.split(words[2], 1)[1], parameters)
            return _Nothing()
        if words and words[0].upper() in ("INSERT", "UPDATE", "DELETE", "CREATE", "DROP"):
            return _Nothing()
        return self.conn.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        return _Nothing()


def _bare(name: str) -> str:
    """A table name without its quotes, lower case."""
    return name.strip('`"').lower()


class _Nothing:
    rowcount = 0
    lastrowid = None
    description = None

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list[Any]:
        return []

    def __iter__(self) -> Any:
        return iter(())


def in_session_transaction(conn: Any, work: Any) -> None:
    """Run `work()` in a read-write transaction of its own (session tables only)."""
    if conn.in_transaction:
        raise RuntimeError("session tables are made before a reader's snapshot, not inside it")
    conn.execute("BEGIN READ WRITE")
    try:
        work()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def stand_in_tables(conn: Any, builder_type: type, names: Collection[str],
                    build: SchemaBuilder) -> None:
    """Empty TEMP tables for `names`, with the columns a new store gives them."""
    proxy = builder_type(conn, names)
    in_session_transaction(conn, lambda: build(proxy))


def shadow_table(conn: Connection, name: str) -> None:
    """A TEMP copy of the store's table `name` (columns, keys and rows), which hides it."""
    schema = conn.execute("SELECT current_schema()").fetchone()[0]
    source = '"' + str(schema).replace('"', '""') + '".' + name

    def work() -> None:
        conn.execute(f"CREATE TEMP TABLE {name} (LIKE {source} INCLUDING ALL)")
        conn.execute(f"INSERT INTO pg_temp.{name} SELECT * FROM {source}")

    in_session_transaction(conn, work)
