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

from setright import timeutil
from setright.db.impl import Connection, SchemaBuilder
from setright.db.zonecase import offset_seconds_sql, zone

SUMMARY_LIMIT = 160
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_TYPES = ("timestamp", "datetime")


def upsert_select_sql(quote: Any, table: str, columns: Sequence[str], key: Sequence[str],
                      select: str, newer: Sequence[str]) -> str:
    """`DefaultImpl.upsert_select_sql` (a `-name` in `newer`: the lower value wins) as
    `IF`s, the `newer` columns assigned last and least significant first."""
    names = ", ".join(quote(c) for c in columns)
    stored = {c: f"{table}.{quote(c)}" for c in columns}   # the SELECT has the same names
    compared = [c.lstrip("-") for c in newer]
    signs = ["-" if c[0] == "-" else "" for c in newer]
    mine = ", ".join(f"{s}VALUES({quote(c)})" for s, c in zip(signs, compared, strict=True))
    theirs = ", ".join(f"{s}{stored[c]}" for s, c in zip(signs, compared, strict=True))
    condition = f"({mine}) > ({theirs})"
    order = [c for c in columns if c not in key and c not in compared] + list(reversed(compared))
    updates = ", ".join(f"{stored[c]} = IF({condition}, VALUES({quote(c)}), {stored[c]})"
                        for c in order)
    return f"INSERT INTO {table} ({names}) {select} ON DUPLICATE KEY UPDATE {updates}"


#: Milliseconds in 400 Gregorian years: the calendar (leap days included) repeats after them.
CYCLE_MS = 146_097 * 86_400_000


def iso_from_ms_sql(expression: str) -> str:
    """Epoch ms as `timeutil.iso_from_ms` writes them (`2026-11-22T12:00:00.000Z`, UTC), for
    any BIGINT, NULL for NULL: one row's odd time must not fail every reader.

    A DATETIME stops at 9999 (NULL beyond) and `ms * 1000` overflows a BIGINT (an error),
    so the instant is moved by whole 400-year cycles into 1970–2369 (integer arithmetic,
    floored, overflowing nowhere), where only the month and day are taken from a DATE;
    the year is the cycle's year plus 400 per cycle, signed and zero-padded as ISO 8601's
    astronomical years (1 BC is `0000`, 2 BC `-0001`, then as many digits as needed).
    MySQL has no LATERAL before 8.0.14 and MariaDB none, so `expression` is repeated."""
    ms = f"({expression})"
    rest = f"(({ms} % {CYCLE_MS} + {CYCLE_MS}) % {CYCLE_MS})"
    cycles = f"({ms} DIV {CYCLE_MS} - ({ms} % {CYCLE_MS} < 0))"
    day = f"DATE_ADD(DATE '1970-01-01', INTERVAL {rest} DIV 86400000 DAY)"
    year = f"(YEAR({day}) + 400 * {cycles})"
    shown = (f"CONCAT(IF({year} < 0, '-', ''),"
             f" LPAD(ABS({year}), GREATEST(4, CHAR_LENGTH(ABS({year}))), '0'))")
    clock = ", ".join(f"'{sep}', LPAD({term}, {width}, '0')" for sep, term, width in (
        ("T", f"{rest} DIV 3600000 % 24", 2), (":", f"{rest} DIV 60000 % 60", 2),
        (":", f"{rest} DIV 1000 % 60", 2), (".", f"{rest} % 1000", 3)))
    return f"CONCAT({shown}, DATE_FORMAT({day}, '-%m-%d'), {clock}, 'Z')"


def error_summary_sql(expression: str) -> str:
    """As on PostgreSQL: the first non-blank line, stripped, cut to 160 characters with "…"."""
    blank = "CHAR(32, 9, 13, 10, 12, 11 USING utf8mb4)"    # ASCII white space only
    first = (f"REGEXP_SUBSTR({expression}, CONCAT('[^', CHAR(13, 10 USING utf8mb4), ']*[^',"
             f" {blank}, '][^', CHAR(13, 10 USING utf8mb4), ']*'))")
    line = f"REGEXP_REPLACE({first}, CONCAT('^[', {blank}, ']+|[', {blank}, ']+$'), '')"
    cut = (f"CASE WHEN CHAR_LENGTH({line}) <= {SUMMARY_LIMIT} THEN {line}"
           f" ELSE CONCAT(LEFT({line}, {SUMMARY_LIMIT - 1}), '…') END")
    # CHAR_LENGTH, not = '': under a PAD SPACE collation ' ' = '' holds
    return (f"(CASE WHEN {expression} IS NULL OR CHAR_LENGTH({expression}) = 0 THEN NULL"
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

def _matches(text: str, pattern: str) -> str:
    """`text` matches all of `pattern` (ASCII only: `text` is trimmed, so `$` cannot stop
    before a final line break, where a regex's `$` may)."""
    return f"{text} REGEXP '^{pattern}$'"


def _int(text: str) -> str:
    """Digits a pattern has admitted as a BIGINT (SIGNED: UNSIGNED arithmetic fails below 0)."""
    return f"CAST({text} AS SIGNED)"


def audit_ms_sql(col: str, data_type: str | None, timezone: str) -> str:
    """`MysqlImpl.audit_ms_sql` for the quoted column `col` of type `data_type`."""
    zone(timezone)
    if data_type in ("tinyint", "smallint", "mediumint", "int", "bigint"):
        return f"COALESCE({col}, -1)"
    if data_type in ("decimal", "double", "float"):
        # as SQLite reads a REAL: cut towards zero (CAST rounds), nothing outside BIGINT
        # (a DECIMAL compared exactly, once cut; a DOUBLE as a double)
        fits = (f"TRUNCATE({col}, 0) BETWEEN {-2 ** 63} AND {2 ** 63 - 1}"
                if data_type == "decimal" else
                f"{col} >= -9.223372036854775808e18 AND {col} < 9.223372036854775808e18")
        return f"COALESCE(CASE WHEN {fits} THEN CAST(TRUNCATE({col}, 0) AS SIGNED) END, -1)"
    if data_type in ("timestamp", "datetime"):
        local = f"(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {col}) DIV 1000)"
        offset = offset_seconds_sql(timezone, col)
        return f"COALESCE({local} - 1000 * ({offset}), -1)"
    if data_type in ("date",):
        return f"COALESCE(TIMESTAMPDIFF(SECOND, '1970-01-01', {col}) * 1000, -1)"
    return text_ms_sql(col)


def text_ms_sql(col: str) -> str:
    """Text as epoch ms by `timeutil.ms_from_any`'s rules, so a text `created_at` folds as
    on SQLite (zone-less text as UTC); NULL for anything else, as on SQLite and PostgreSQL
    (the fold reads it as -1; `audit list --history` shows no time). The fold writes it with
    INSERT … SELECT in strict mode, where a cast's warning is an error that fails every
    reader, so each cast runs only on text a pattern (and a CASE, which alone orders the
    checks) has admitted: integers within BIGINT; decimals cut towards zero, a 3-digit
    exponent of 200 or more (where DOUBLE could overflow) read as out of range unless the
    digits are all zero; times from their fields once each is in range, in integer
    arithmetic (a DATETIME would round fractions and take other texts)."""
    space = timeutil.SPACE
    t = f"REGEXP_REPLACE({col}, '^[{space}]+|[{space}]+$', '')"
    big = 2 ** 63
    double = f"CAST({t} AS DOUBLE)"
    decimal = (f"CASE WHEN {t} REGEXP '[eE][+]?[2-9][0-9]{{2}}$'"
               f" THEN IF({t} REGEXP '^[^eE]*[1-9]', NULL, 0)"
               f" WHEN {double} >= -9.223372036854775808e18 AND {double} < 9.223372036854775808e18"
               f" THEN CAST(TRUNCATE({double}, 0) AS SIGNED) END")
    in_range = (f"CASE WHEN {_matches(t, timeutil.INTEGER_TEXT)}"
                f" THEN CAST({t} AS DECIMAL(65, 0)) BETWEEN {-big} AND {big - 1} END")
    number = f"CASE WHEN {in_range} THEN {_int(t)} ELSE {decimal} END"
    year, month, day, hour, minute = (_int(f"SUBSTRING({t}, {at}, {width})") for at, width in (
        (1, 4), (6, 2), (9, 2), (12, 2), (15, 2)))
    has_seconds = f"(SUBSTRING({t}, 17, 1) = ':')"
    second = f"IF({has_seconds}, {_int(f'SUBSTRING({t}, 18, 2)')}, 0)"
    fraction = (f"IF({has_seconds} AND SUBSTRING({t}, 20, 1) = '.',"
                f" REGEXP_SUBSTR(SUBSTRING({t}, 21), '^[0-9]+'), '')")
    millis = _int(f"RPAD(LEFT({fraction}, 3), 3, '0')")
    zone = (f"SUBSTRING({t}, 17 + 3 * {has_seconds}"
            f" + IF(CHAR_LENGTH({fraction}) > 0, 1 + CHAR_LENGTH({fraction}), 0))")
    zoned = f"({zone} NOT IN ('', 'Z', 'z'))"
    off_hour = f"IF({zoned}, {_int(f'SUBSTRING({zone}, 2, 2)')}, 0)"
    off_minute = f"IF({zoned} AND CHAR_LENGTH({zone}) > 3, {_int(f'RIGHT({zone}, 2)')}, 0)"
    sign = f"IF(LEFT({zone}, 1) = '-', -1, 1)"
    leap = f"({year} % 4 = 0 AND ({year} % 100 <> 0 OR {year} % 400 = 0))"
    month_days = (f"CASE WHEN {month} = 2 THEN IF({leap}, 29, 28)"
                  f" WHEN {month} IN (4, 6, 9, 11) THEN 30 ELSE 31 END")
    valid = (f"{year} >= 1 AND {month} BETWEEN 1 AND 12 AND {day} BETWEEN 1 AND {month_days}"
             f" AND {hour} <= 23 AND {minute} <= 59 AND {second} <= 59 AND {off_hour} <= 23"
             f" AND {off_minute} <= 59")
    # days from 1970-01-01 to year-month-day: Hinnant's days_from_civil, all terms >= 0
    y = f"({year} - ({month} <= 2))"
    era_year = f"({y} % 400)"
    day_of_year = f"((153 * ({month} + IF({month} > 2, -3, 9)) + 2) DIV 5 + {day} - 1)"
    days = (f"({y} DIV 400 * 146097 + {era_year} * 365 + {era_year} DIV 4"
            f" - {era_year} DIV 100 + {day_of_year} - 719468)")
    moment = (f"((({days} * 1440 + {hour} * 60 + {minute} - {sign} * ({off_hour} * 60"
              f" + {off_minute})) * 60 + {second}) * 1000 + {millis})")
    return (f"(CASE WHEN CHAR_LENGTH({t}) <= {timeutil.NUMBER_CHARS}"
            f" AND {_matches(t, timeutil.DECIMAL_TEXT)} THEN {number}"
            f" WHEN {_matches(t, timeutil.MOMENT_TEXT)} THEN IF({valid}, {moment}, NULL) END)")


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
