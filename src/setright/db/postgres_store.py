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

import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from setright import timeutil
from setright.db.impl import Connection, SchemaBuilder
from setright.db.url import DbUrl
from setright.errors import SetrightError

#: A write of fewer rows leaves a table's planner statistics to autovacuum.
ANALYZE_AFTER_ROWS = 10_000

_PLAIN_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Bound on the summary of an error trace (as `store.audit.error_summary`).
SUMMARY_LIMIT = 160


def quote_plain(identifier: str) -> str:
    """The identifier unquoted, as Flamingock writes it, after checking it is plain (see
    `PostgresImpl.quote`)."""
    if not _PLAIN_IDENTIFIER.match(identifier):
        raise SetrightError(
            f"{identifier!r} is not a plain SQL name: on PostgreSQL setright uses table "
            "names unquoted (as Flamingock does); use letters, digits and _")
    return identifier


def literal(value: str) -> str:
    """A standard SQL string literal (for DDL and expressions, where parameters cannot go)."""
    return "'" + value.replace("'", "''") + "'"


#: Milliseconds in 400 Gregorian years: the calendar (leap days included) repeats after them.
CYCLE_MS = 146_097 * 86_400_000


def iso_from_ms_sql(expression: str) -> str:
    """Epoch ms as `timeutil.iso_from_ms` writes them (`2026-11-22T12:00:00.000Z`, UTC), for
    any bigint, NULL for NULL: one row's odd time must not fail every reader.

    PostgreSQL's own `timestamp` stops at 4713 BC and 294276 AD ("interval out of range"
    fails the statement) and `to_char` writes BC years unsigned. So the instant is moved
    by whole 400-year cycles into 1970–2369 (integer arithmetic, floored, overflowing
    nowhere for any bigint), where only the month and day are taken from a `date`; the
    year is the cycle's year plus 400 per cycle, signed and zero-padded as ISO 8601's
    astronomical years (1 BC is `0000`, 2 BC `-0001`, then as many digits as needed)."""
    rest = f"((ms % {CYCLE_MS} + {CYCLE_MS}) % {CYCLE_MS})"
    cycles = f"(ms / {CYCLE_MS} - (ms % {CYCLE_MS} < 0)::int)"
    parts = (f"SELECT date '1970-01-01' + (rest / 86400000)::int AS day,"
             f" rest % 86400000 AS clock, cycles"
             f" FROM (SELECT {rest} AS rest, {cycles} AS cycles"
             f" FROM (SELECT ({expression})::bigint AS ms) given) shifted")
    year = "(extract(year FROM day)::bigint + 400 * cycles)"
    digits = f"abs({year})::text"
    shown = (f"CASE WHEN {year} < 0 THEN '-' ELSE '' END"
             f" || lpad({digits}, greatest(4, length({digits})), '0')")
    clock = " || ".join(f"'{sep}' || lpad(({term})::text, {width}, '0')" for sep, term, width in (
        ("T", "clock / 3600000", 2), (":", "clock / 60000 % 60", 2),
        (":", "clock / 1000 % 60", 2), (".", "clock % 1000", 3)))
    return f"(SELECT {shown} || to_char(day, '-MM-DD') || {clock} || 'Z' FROM ({parts}) fields)"


def error_summary_sql(expression: str) -> str:
    """The first non-blank line of a trace, stripped, cut to 160 characters with "…";
    NULL for a NULL or empty trace, '' for one that is only white space (ASCII white
    space and CR/LF line ends, as `store.audit.error_summary`)."""
    line = (f"btrim(substring({expression} from '[^\\r\\n]*[^ \\t\\r\\n\\f\\v][^\\r\\n]*'),"
            " E' \\t\\r\\n\\f\\x0b')")   # E'' strings know no \v: it would be 'v'
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


def audit_write_values(types: dict[str, str], values: Mapping[str, Any], created_ms: int,
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


def in_session_transaction(conn: Any, work: Any) -> None:
    """Run `work()` in a read-write transaction of its own (session tables only)."""
    if conn.in_transaction:
        raise RuntimeError("session tables are made before a reader's snapshot, not inside it")
    conn.execute("BEGIN READ WRITE")
    try:
        work()
        conn.execute("COMMIT")
    except BaseException:
        try:
            conn.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - left mid-command: the first error is the one to tell
            pass
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


#: (table, column) → (`format_type` without modifier, pg_type name, typmod).
ColumnTypes = dict[tuple[str, str], tuple[str, str, int]]


def reader_catalog(conn: Connection, audit_table: str
                   ) -> tuple[set[str], list[str] | None, ColumnTypes]:
    """In one query: the current schema's tables (`table_names`); the columns of the audit
    table (its folded name) in order, None if it is not there (`column_names`: a reader's
    fresh connection has no TEMP table that could hide it); and each column's
    `(format_type, typname, typmod)`, which do not change while a reader reads."""
    tables: set[str] = set()
    columns: list[str] = []
    known: ColumnTypes = {}
    for relname, attname, kind, typname, typmod in conn.execute(
            "SELECT c.relname, a.attname, format_type(a.atttypid, NULL), t.typname, a.atttypmod"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_attribute a ON c.relname = ? AND a.attrelid = c.oid"
            " AND a.attnum > 0 AND NOT a.attisdropped"
            " LEFT JOIN pg_type t ON t.oid = a.atttypid"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
            " ORDER BY c.relname, a.attnum", (audit_table,)):
        tables.add(relname)
        if attname is not None:
            columns.append(attname)
            known[(audit_table, attname)] = (kind, typname, int(typmod))
    return tables, (columns if audit_table in tables else None), known


def refresh_statistics(conn: Connection, table: str, changed: int) -> None:
    """ANALYZE `table` (its folded name) when `changed` rows were just written, at least
    `ANALYZE_AFTER_ROWS` and a tenth of the rows it had when last analyzed (autovacuum's
    default share), or it never was.

    A store's first fold writes its whole change-state cache in one transaction; until
    autovacuum's next pass (a minute later, or never where it is off) readers would plan
    the issue queries with no statistics (a sequential scan of every change instead of
    the state index). Run in the write transaction, so it rolls back with it; `SKIP_LOCKED`:
    a maintenance pass on the table is not waited for; a role that does not own the table
    gets PostgreSQL's warning (a notice), never an error."""
    if changed < ANALYZE_AFTER_ROWS:
        return
    row = conn.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(?)",
                       (table,)).fetchone()
    if row is not None and row[0] <= changed * 10:   # reltuples: -1 (PG 14+) or 0 if never
        conn.execute(f"ANALYZE (SKIP_LOCKED) {quote_plain(table)}")


# -- connect errors and Flamingock's DDL ------------------------------------------------

_SERVER_PREFIX = re.compile(
    r'^(connection failed: )?(connection to server (at|on) ("[^"]*"|\S+)'
    r"( \([^)]*\))?(, port \d+)? failed: )?", re.I)


def connect_cause(exc: BaseException, url: DbUrl) -> str:
    """The driver's reason in one line, without the server address (the message names it)
    and never with the password, even where the driver quotes it."""
    lines: list[str] = []
    for line in str(exc).splitlines():
        line = _SERVER_PREFIX.sub("", line.strip())
        line = re.sub(r"^FATAL:\s+", "", line)
        if line and line not in lines:
            lines.append(line)
    cause = "; ".join(lines) or type(exc).__name__
    if url.password:
        cause = cause.replace(url.password, "***")
    return cause


def flamingock_audit_ddl(table: str) -> str:
    """The CREATE TABLE Flamingock's SQL auditor runs for its audit log on PostgreSQL.

    Written after Flamingock's `SqlAuditorDialectHelper` (flamingock-sql-util): an
    unquoted name, `id SERIAL`, a zone-less `created_at TIMESTAMP` in the JVM's local time,
    VARCHARs and BOOLEAN flags — the audit-log columns of docs/architecture.md, in that order.
    """
    columns = [
        "id SERIAL PRIMARY KEY", "execution_id VARCHAR(255)", "stage_id VARCHAR(255)",
        "change_id VARCHAR(255)", "author VARCHAR(255)", "created_at TIMESTAMP",
        "state VARCHAR(32)", "invoked_class VARCHAR(255)", "invoked_method VARCHAR(255)",
        "source_file VARCHAR(255)", "metadata TEXT", "execution_millis BIGINT",
        "execution_hostname VARCHAR(255)", "error_trace TEXT", "type VARCHAR(32)",
        "tx_strategy VARCHAR(32)", "target_system_id VARCHAR(255)",
        "change_order VARCHAR(255)", "recovery_strategy VARCHAR(32)",
        "transaction_flag BOOLEAN", "system_change BOOLEAN",
    ]
    return f"CREATE TABLE IF NOT EXISTS {quote_plain(table)} ({', '.join(columns)})"


# -- audit times as SQL ----------------------------------------------------------------


def local_instant_sql(local: str, tz: str) -> str:
    """The instant of zone-less `local` (a timestamp expression) on the wall clock of zone
    `tz` (a literal). In the hour a fall-back repeats, the earlier instant (the offset before
    the change), as Java's `LocalDateTime.atZone`, Python's `zoneinfo` and the MySQL
    store read it; PostgreSQL's own `AT TIME ZONE` takes the later one. A wall-clock time
    a spring-forward skips reads with the offset before it on every one of them."""
    plain = f"(({local}) AT TIME ZONE {tz})"
    if tz == literal("UTC"):
        return plain
    # the offset a day earlier (no zone changes twice in a day) gives the earlier instant;
    # it is that time's if it reads back as the same wall-clock time
    before = f"({plain} - interval '1 day')"
    offset = f"(({before} AT TIME ZONE {tz}) - ({before} AT TIME ZONE 'UTC'))"
    earlier = f"((({local}) - {offset}) AT TIME ZONE 'UTC')"
    return (f"(CASE WHEN ({local}) BETWEEN '0001-01-03' AND '9999-12-30'"
            f" AND {earlier} < {plain} AND ({earlier} AT TIME ZONE {tz}) = ({local})"
            f" THEN {earlier} ELSE {plain} END)")


def epoch_ms_sql(timestamptz: str) -> str:
    """Epoch ms of a timestamp expression; NULL (the fold's -1) for ±infinity, which
    `::bigint` cannot hold (it would fail every reader of the store)."""
    return (f"(CASE WHEN isfinite({timestamptz}) THEN round(extract(epoch FROM"
            f" date_trunc('milliseconds', {timestamptz})) * 1000)::bigint END)")


def number_ms_sql(column: str, kind: str) -> str:
    """A numeric or floating `created_at` as SQLite reads a REAL: cut towards zero (`::bigint`
    rounds), NULL (the fold's -1) outside bigint, for NaN and for infinities, where
    `::bigint` fails the statement. CASE, so no cast runs before its guard holds."""
    big = 2 ** 63
    if kind == "numeric":   # exact: NaN and ±Infinity compare above (or below) every bound
        return (f"(CASE WHEN trunc({column}) BETWEEN {-big} AND {big - 1}"
                f" THEN trunc({column})::bigint END)")
    number = f"({column})::float8"
    return (f"(CASE WHEN {number} >= '{-big}'::float8 AND {number} < '{big}'::float8"
            f" THEN trunc({number})::bigint END)")


#: `ms_from_any`'s white space, for `btrim` (E'' strings have no `\v`).
_SPACE = " || ".join(f"chr({ord(c)})" for c in timeutil.SPACE)


def text_ms_sql(column: str, tz: str) -> str:
    """Text as epoch ms by `ms_from_any`'s rules, so a text `created_at` folds as on
    SQLite: NULL (the fold's -1) for anything else, raising nothing. One unreadable row
    must not fail every reader, so no cast runs on text a pattern has not admitted first
    (PostgreSQL may evaluate AND's operands in any order; only CASE orders them).

    Numbers (SQLite's NUMERIC affinity makes `1767261600000.5` a REAL, cut towards zero):
    the pattern bounds length and exponent, so `::numeric` cannot fail, and `::float8` runs
    only for magnitudes in [0.5, 1e19). Times are computed from the matched fields once
    their ranges hold (`2026-13-45T99:99:99Z` does not), not by PostgreSQL's own input
    rules, which accept other texts (`24:00`, leap seconds) and round fractions."""
    t = "t"
    big = 2 ** 63
    number = (
        f"CASE WHEN {t} ~ '^{timeutil.INTEGER_TEXT}$'"
        f" AND {t}::numeric BETWEEN {-big} AND {big - 1} THEN {t}::bigint"
        f" WHEN abs({t}::numeric) < 0.5 THEN 0"
        f" WHEN abs({t}::numeric) >= 1e19 THEN NULL"
        f" WHEN {t}::float8 >= '{-big}'::float8 AND {t}::float8 < '{big}'::float8"
        f" THEN trunc({t}::float8)::bigint END")
    y, mo, d, h, mi = (f"m[{i}]::int" for i in range(1, 6))
    s, frac = "coalesce(m[7], '0')::int", "rpad(left(coalesce(m[9], ''), 3), 3, '0')::int"
    off_h, off_m = "coalesce(m[12], '0')::int", "coalesce(m[14], '0')::int"
    leap = f"({y} % 4 = 0 AND ({y} % 100 <> 0 OR {y} % 400 = 0))"
    month_days = (f"CASE WHEN {mo} = 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END"
                  f" WHEN {mo} IN (4, 6, 9, 11) THEN 30 ELSE 31 END")
    valid = (f"{y} >= 1 AND {mo} BETWEEN 1 AND 12 AND {d} BETWEEN 1 AND {month_days}"
             f" AND {h} <= 23 AND {mi} <= 59 AND {s} <= 59 AND {off_h} <= 23 AND {off_m} <= 59")
    sign = "CASE WHEN m[11] = '-' THEN -1 ELSE 1 END"
    days = f"(make_date({y}, {mo}, {d}) - date '1970-01-01')::bigint"
    zoned = (f"((({days} * 1440 + {h} * 60 + {mi} - {sign} * ({off_h} * 60 + {off_m})) * 60"
             f" + {s}) * 1000 + {frac})")
    local = local_instant_sql(f"make_timestamp({y}, {mo}, {d}, {h}, {mi}, {s})", tz)
    zoneless = f"((extract(epoch FROM {local}) * 1000)::bigint + {frac})"
    moment = (f"(SELECT CASE WHEN {valid} THEN CASE WHEN m[10] IS NULL THEN {zoneless}"
              f" ELSE {zoned} END END"
              f" FROM (SELECT regexp_match({t}, '^{timeutil.MOMENT_TEXT}$') AS m) parts)")
    return (f"(SELECT CASE WHEN length({t}) <= {timeutil.NUMBER_CHARS}"
            f" AND {t} ~ '^{timeutil.DECIMAL_TEXT}$' THEN {number} ELSE {moment} END"
            f" FROM (SELECT btrim(({column})::text, {_SPACE}) AS {t}) trimmed)")
