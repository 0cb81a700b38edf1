"""What the audit store does differently on MySQL/MariaDB: the fold's upsert, time as SQL,
session tables for readers.

`MysqlImpl` delegates here; nothing outside `setright.db` calls these directly.

* The fold. MySQL has no `ON CONFLICT … WHERE`; `ON DUPLICATE KEY UPDATE` assigns
  left to right, each assignment seeing the ones before it. Every column is therefore
  assigned `IF(newer, VALUES(c), c)`, the comparison columns last and least significant
  first: once one of them has taken the new value, the comparison that follows can only
  fail where the remaining values are equal, so the result is the one a single comparison
  of the original values gives.
* Audit times. Flamingock's MySQL audit log keeps `created_at` as a zone-less TIMESTAMP
  of whole seconds (the writing JVM's local time, read in `store.timezone`); setright
  writes its rows the same way, cut to the column's precision (MySQL would round).
* Readers. A read-only transaction may not create a table, not even a TEMPORARY one, and
  a user with only SELECT may not create them at all. Session tables are therefore made
  before the read snapshot, in a moment of read-write session, and only when needed.
  TEMPORARY tables hide the store's tables of the same name, even qualified ones, so a
  private copy is filled under another name and renamed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from setright.db.impl import Connection, SchemaBuilder

SUMMARY_LIMIT = 160
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_TYPES = ("timestamp", "datetime")


def upsert_select_sql(quote: Any, table: str, columns: Sequence[str], key: Sequence[str],
                      select: str, newer: Sequence[str]) -> str:
    names = ", ".join(quote(c) for c in columns)
    mine = ", ".join(f"VALUES({quote(c)})" for c in newer)
    stored = {c: f"{table}.{quote(c)}" for c in columns}   # the SELECT has the same names
    theirs = ", ".join(stored[c] for c in newer)
    condition = f"({mine}) > ({theirs})"
    order = [c for c in columns if c not in key and c not in newer] + list(reversed(newer))
    updates = ", ".join(f"{stored[c]} = IF({condition}, VALUES({quote(c)}), {stored[c]})"
                        for c in order)
    return f"INSERT INTO {table} ({names}) {select} ON DUPLICATE KEY UPDATE {updates}"


def iso_from_ms_sql(expression: str) -> str:
    instant = (f"DATE_ADD(TIMESTAMP '1970-01-01 00:00:00',"
               f" INTERVAL ({expression}) * 1000 MICROSECOND)")
    return f"CONCAT(LEFT(DATE_FORMAT({instant}, '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z')"


def error_summary_sql(expression: str) -> str:
    """As on PostgreSQL: the first non-blank line, stripped, cut to 160 characters with "…"."""
    first = (f"REGEXP_SUBSTR({expression},"
             f" CONCAT('[^', CHAR(13), CHAR(10), ']*[^[:space:]][^', CHAR(13), CHAR(10), ']*'))")
    line = f"REGEXP_REPLACE({first}, '^[[:space:]]+|[[:space:]]+$', '')"
    cut = (f"CASE WHEN CHAR_LENGTH({line}) <= {SUMMARY_LIMIT} THEN {line}"
           f" ELSE CONCAT(LEFT({line}, {SUMMARY_LIMIT - 1}), '…') END")
    return (f"(CASE WHEN {expression} IS NULL OR {expression} = '' THEN NULL"
            f" ELSE COALESCE({cut}, '') END)")


def audit_write_values(types: dict[str, tuple[str, int]], values: Mapping[str, Any],
                       created_ms: int, timezone: str) -> dict[str, Any]:
    """`created_at` in the column's type: a zone-less time in `timezone`, cut to its
    fractional digits; integer ms; or ms digits in a text column."""
    out = dict(values)
    kind, digits = types.get("created_at", ("bigint", 0))
    if kind in _TIME_TYPES:
        step = 10 ** (3 - min(3, digits))
        instant = _EPOCH + timedelta(milliseconds=created_ms - created_ms % step)
        local = instant.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
        out["created_at"] = local.strftime("%Y-%m-%d %H:%M:%S.%f")
    elif kind in ("varchar", "char", "text", "longtext", "mediumtext", "tinytext"):
        out["created_at"] = str(created_ms)
    else:
        out["created_at"] = created_ms
    for name, value in values.items():
        if isinstance(value, bool):
            out[name] = int(value)
    return out


def column_types(conn: Any, table: str) -> dict[str, tuple[str, int]]:
    """(data type, fractional digits) of each column, asked once per connection."""
    cache = conn.__dict__.setdefault("_audit_types", {})
    if table not in cache:
        found: dict[str, tuple[str, int]] = {}
        for field, kind, *_ in conn.execute(f"SHOW COLUMNS FROM `{table}`").fetchall():
            text = str(kind.decode() if isinstance(kind, bytes) else kind).lower()
            base = text.split("(")[0].strip()
            digits = int(text.split("(")[1].split(")")[0]) if (
                base in _TIME_TYPES and "(" in text) else 0
            found[str(field).lower()] = (base, digits)
        cache[table] = found
    return cache[table]  # type: ignore[no-any-return]


# -- session tables for readers ---------------------------------------------------


def read_write_moment(conn: Any, work: Any) -> None:
    """Run `work()` with the session briefly read-write (session tables only)."""
    if conn.in_transaction:
        raise RuntimeError("session tables are made before a reader's snapshot, not inside it")
    conn.execute("SET SESSION TRANSACTION READ WRITE")
    try:
        work()
    finally:
        if conn.read_only:
            conn.execute("SET SESSION TRANSACTION READ ONLY")


def stand_in_tables(conn: Any, builder_type: type, names: Collection[str],
                    build: SchemaBuilder) -> None:
    proxy = builder_type(conn, names)
    read_write_moment(conn, lambda: build(proxy))
    conn.__dict__.setdefault("session_tables", set()).update(names)


def shadow_table(conn: Connection, name: str) -> None:
    copy = f"setright_copy_{name}"

    def work() -> None:
        conn.execute(f"CREATE TEMPORARY TABLE `{copy}` LIKE `{name}`")
        conn.execute(f"INSERT INTO `{copy}` SELECT * FROM `{name}`")
        conn.execute(f"ALTER TABLE `{copy}` RENAME TO `{name}`")

    read_write_moment(conn, work)
    conn.__dict__.setdefault("session_tables", set()).add(name)


# -- reading text times, and Flamingock's DDL -----------------------------------------

_ISO = ("'^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,6})?"
        "(Z|[+-][0-9]{2}:?[0-9]{2})?$'")


def text_ms_sql(col: str) -> str:
    trimmed = f"TRIM({col})"
    # NULL without a zone: MariaDB's REGEXP_SUBSTR gives '' where MySQL's gives NULL
    zone_part = f"NULLIF(REGEXP_SUBSTR({trimmed}, '(Z|[+-][0-9]{{2}}:?[0-9]{{2}})$'), '')"
    local = (f"CAST(REPLACE(SUBSTRING({trimmed}, 1, CHAR_LENGTH({trimmed})"
             f" - CHAR_LENGTH(COALESCE({zone_part}, ''))), 'T', ' ') AS DATETIME(6))")
    offset = (f"CASE WHEN {zone_part} IS NULL OR {zone_part} = 'Z' THEN 0 ELSE"
              f" (CASE WHEN LEFT({zone_part}, 1) = '-' THEN -1 ELSE 1 END)"
              f" * (CAST(SUBSTRING({zone_part}, 2, 2) AS SIGNED) * 3600"
              f" + CAST(RIGHT({zone_part}, 2) AS SIGNED) * 60) END")
    return (f"CASE WHEN {trimmed} REGEXP '^-?[0-9]+$' THEN CAST({trimmed} AS SIGNED)"
            f" WHEN {trimmed} REGEXP {_ISO} THEN"
            f" TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {local}) DIV 1000"
            f" - 1000 * ({offset}) ELSE -1 END")


def flamingock_audit_ddl(table: str, *, created_at: str = "TIMESTAMP") -> str:
    """The audit table as Flamingock's SQL audit store creates it on MySQL/MariaDB
    (its per-dialect DDL: VARCHAR(255) strings, LONGTEXT for metadata and traces,
    a whole-second TIMESTAMP `created_at`, TINYINT(1) flags), written out here."""
    strings = ["execution_id", "stage_id", "change_id", "author"]
    more = ["invoked_class", "invoked_method", "source_file"]
    columns = ["id BIGINT AUTO_INCREMENT PRIMARY KEY"]
    columns += [f"{c} VARCHAR(255)" for c in strings]
    default = "CURRENT_TIMESTAMP" + ("(3)" if "(3)" in created_at else "")
    columns += [f"created_at {created_at} DEFAULT {default}", "state VARCHAR(255)"]
    columns += [f"{c} VARCHAR(255)" for c in more]
    columns += ["metadata LONGTEXT", "execution_millis BIGINT",
                "execution_hostname VARCHAR(255)", "error_trace LONGTEXT", "type VARCHAR(50)",
                "tx_strategy VARCHAR(50)", "target_system_id VARCHAR(255)",
                "change_order VARCHAR(50)", "recovery_strategy VARCHAR(50)",
                "transaction_flag TINYINT(1)", "system_change TINYINT(1)"]
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(columns)})"
