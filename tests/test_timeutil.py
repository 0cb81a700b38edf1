"""Timestamps: the text setright writes for a moment, whatever moment it is."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from setright.timeutil import iso_from_ms, ms_from_any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def reference(ms: int) -> str:
    """The same text from whole-number arithmetic on datetime, no float in between."""
    moment = EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@pytest.mark.parametrize("ms", [0, 1, 999, 1000, 1001, -1, -999, -1000, -1001,
                                1_796_216_213_703, 253_402_300_799_999])
def test_a_moment_is_written_to_the_millisecond(ms: int) -> None:
    assert iso_from_ms(ms) == reference(ms)
    assert ms_from_any(iso_from_ms(ms)) == ms


def test_moments_a_second_apart_and_within_one_second_are_all_exact() -> None:
    """The text of a second is remembered: neighbours in and across seconds stay right."""
    rng = random.Random(20261202)
    start = 1_796_216_213_000
    moments = [start + rng.randrange(-5_000, 5_000) for _ in range(2_000)]
    moments += [rng.randrange(-10**12, 10**13) for _ in range(2_000)]
    assert [iso_from_ms(ms) for ms in moments] == [reference(ms) for ms in moments]


#: Epoch ms of 10000-01-01T00:00:00Z, the first instant `datetime` cannot hold.
YEAR_10000_MS = 253_402_300_800_000
#: Epoch ms of 0001-01-01T00:00:00Z, the first instant it can.
YEAR_ONE_MS = -62_135_596_800_000
DAY_MS = 86_400_000


@pytest.mark.parametrize("ms, text", [
    (YEAR_10000_MS, "10000-01-01T00:00:00.000Z"),            # as PostgreSQL's to_char writes
    (YEAR_10000_MS + 152 * DAY_MS + 36_000_000, "10000-06-01T10:00:00.000Z"),  # 10000 is leap
    (YEAR_10000_MS + 59 * DAY_MS, "10000-02-29T00:00:00.000Z"),
    (YEAR_10000_MS + 8000 * 365_2425 * DAY_MS // 10_000, "18000-01-01T00:00:00.000Z"),
    (YEAR_ONE_MS - 1, "0000-12-31T23:59:59.999Z"),           # 1 BC is year 0
    (YEAR_ONE_MS - 366 * DAY_MS, "0000-01-01T00:00:00.000Z"),
    (YEAR_ONE_MS - 366 * DAY_MS - 1, "-0001-12-31T23:59:59.999Z"),
    (2**63 - 1, "292278994-08-17T07:12:55.807Z"),
    (-(2**63), "-292275055-05-16T16:47:04.192Z"),
])
def test_a_moment_outside_datetime_is_written_not_raised(ms: int, text: str) -> None:
    """`setright_iso` runs inside SQLite's SQL: one audit row past year 9999 (or before year
    1) raising there failed every reader."""
    assert iso_from_ms(ms) == text


def test_the_four_hundred_year_cycle_holds_outside_datetime() -> None:
    """400 Gregorian years are 146097 days: a moment and the one 400·k years on differ only in
    the year, inside datetime's range and beyond it."""
    cycle = 146_097 * DAY_MS
    rng = random.Random(20261203)
    for _ in range(2_000):
        ms = rng.randrange(YEAR_ONE_MS, YEAR_10000_MS)
        k = rng.choice([-3000, -20, -5, -1, 1, 5, 20, 3000])
        base, moved = iso_from_ms(ms), iso_from_ms(ms + k * cycle)
        assert moved.endswith(base[4:]) and int(moved[:-len(base[4:])]) == int(base[:4]) + 400 * k


@pytest.mark.parametrize("value", [
    "garbage", "", "  ", "--5", "+-5", "1e400", "-1e400", "inf", "nan", "NaN", "1_000", "0x10",
    "١٢", "²", "9223372036854775808", "2026-13-45T99:99:99Z", "2026-02-29T00:00:00Z",
    "2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T23:59:60Z", "0000-01-01T00:00:00Z",
    "2026-01-01T10:00:00+24:00", "2026-01-01T10:00:00+01:60", "2026-01-01", "20260101T100000Z",
    "2026-01-01T10:00:00 Europe/Paris", "2026-01-01T10:00:00.Z", "1" * 65,
    float("inf"), float("-inf"), float("nan"), 1e300, 2**63, -(2**63) - 1, b"\xff", True,
])
def test_what_is_no_time_is_none_not_an_error(value: object) -> None:
    """`setright_ms` runs inside SQL too: it says None (the fold's -1), never raises."""
    assert ms_from_any(value) is None


@pytest.mark.parametrize("value, ms", [
    ("1767261600000", 1_767_261_600_000),
    ("  1767261600000\t", 1_767_261_600_000),
    ("+12", 12),
    ("1767261600000.5", 1_767_261_600_000),   # a REAL, as SQLite's NUMERIC affinity makes it
    ("-1.5", -1),                             # cut towards zero, as int() cuts a REAL
    (1767261600000.9, 1_767_261_600_000),
    ("1e3", 1000),
    ("1e-999", 0),
    ("-9223372036854775808", -(2**63)),
    ("2026-01-01T10:00:00Z", 1_767_261_600_000),
    ("2026-01-01t10:00:00z", 1_767_261_600_000),
    ("2026-01-01T10:00", 1_767_261_600_000),   # Java's LocalDateTime leaves out :00
    ("2026-01-01 10:00:00.123", 1_767_261_600_123),
    ("2026-01-01T10:00:00.123999999Z", 1_767_261_600_123),   # cut, as toEpochMilli cuts
    ("2026-01-01T11:30:00+01:30", 1_767_261_600_000),
    ("2026-01-01T11:30:00+0130", 1_767_261_600_000),
    ("2026-01-01T11:00:00+01", 1_767_261_600_000),
    ("2026-01-01T00:00:00-10:00", 1_767_261_600_000),
    ("2024-02-29T00:00:00Z", 1_709_164_800_000),
    ("9999-12-31T23:59:59-05:00", YEAR_10000_MS + 5 * 3_600_000 - 1000),
    ("0001-01-01T00:00:00+01:00", YEAR_ONE_MS - 3_600_000),
])
def test_what_is_a_time_is_read(value: object, ms: int) -> None:
    assert ms_from_any(value) == ms


def test_the_store_functions_never_raise_inside_sqlite() -> None:
    """A user-defined function that raises fails the statement ("user-defined function raised
    exception"): every reader of the store. Whatever a `created_at` holds, none may."""
    import sqlite3

    from setright.db.sqlite import SqliteImpl
    from setright.store.audit import SQL_FUNCTIONS

    conn = sqlite3.connect(":memory:")
    for name, function in SQL_FUNCTIONS.items():
        conn.create_function(name, 1, function, deterministic=True)
    conn.execute("CREATE TABLE log (created_at DATETIME)")
    odd = [YEAR_10000_MS, YEAR_ONE_MS - 1, 2**63 - 1, -(2**63), 1e400, -1e400, 1e300, "--5",
           "garbage", "", "2026-13-45T99:99:99Z", "9" * 40, b"\x00\xff", 0.5, None]
    conn.executemany("INSERT INTO log VALUES (?)", [(v,) for v in odd])
    impl = SqliteImpl()
    ms = f"coalesce({impl.audit_ms_sql(conn, 'log')}, -1)"
    got = conn.execute(f"SELECT {ms}, {impl.iso_from_ms_sql(ms)},"
                       f" setright_iso(created_at) FROM log").fetchall()
    assert got[0] == (YEAR_10000_MS, "10000-01-01T00:00:00.000Z", "10000-01-01T00:00:00.000Z")
    assert got[1][1] == "0000-12-31T23:59:59.999Z"
    assert [row[0] for row in got[4:]] == [-1, -1, -1, -1, -1, -1, -1, -1, -1, 0, -1]
