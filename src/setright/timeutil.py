"""Clocks, timestamps and durations.

setright's own tables store UTC ISO-8601 text with milliseconds and `Z`; the
audit log stores epoch milliseconds (as Flamingock's JDBC driver does on
SQLite). Core code takes a `Clock` so tests can pin time.
"""

from __future__ import annotations

import math
import os
import re
import time
from datetime import date, timedelta
from functools import lru_cache
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


CLOCK_OFFSET_ENV = "SETRIGHT_CLOCK_OFFSET_MS"


class SystemClock:
    """The host's clock, shifted by `SETRIGHT_CLOCK_OFFSET_MS` when set (a test hook).

    The offset moves every reading by the same amount, so several processes given the
    same offset agree on one shifted timeline (leases still expire in real time) while
    any date they print is fixed by the test, not by the day it runs.
    """

    def __init__(self) -> None:
        raw = os.environ.get(CLOCK_OFFSET_ENV, "").strip()
        try:
            self.offset_ms = int(raw) if raw else 0
        except ValueError:
            self.offset_ms = 0

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.offset_ms


class FixedClock:
    """A clock that moves only when told to (tests, deterministic demos)."""

    def __init__(self, start_ms: int) -> None:
        self.ms = start_ms

    def now_ms(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


def iso_from_ms(ms: int) -> str:
    """`2026-11-22T12:00:00.000Z` for epoch ms `ms`, for any integer: an audit row may hold
    any time, and this runs inside SQL (`setright_iso`), where raising fails the statement.

    Proleptic Gregorian, UTC. Years past 9999 take as many digits as they need
    (`10000-01-01T00:00:00.000Z`, as PostgreSQL prints them); years before 1 are ISO 8601's
    astronomical years with a sign: year 0 is 1 BC (`0000-…`), 2 BC is `-0001-…`.
    """
    seconds, millis = divmod(ms, 1000)
    return f"{_iso_second(seconds)}.{millis:03d}Z"


#: Days in 400 Gregorian years: the calendar repeats after them, weekdays and leap days alike.
_CYCLE_DAYS = 146_097
_EPOCH_DAY = date(1970, 1, 1)


@lru_cache(maxsize=64)
def _iso_second(seconds: int) -> str:
    """The text of a whole second (a runner formats thousands of times within a few).
    Arithmetic, not `datetime.fromtimestamp`: that one stops at years 1 and 9999 (and on
    some hosts at 1970); the day is moved by whole 400-year cycles into 1970–2369."""
    days, second = divmod(seconds, 86_400)
    cycles, day = divmod(days, _CYCLE_DAYS)
    moment = _EPOCH_DAY + timedelta(days=day)
    year = moment.year + 400 * cycles
    hour, rest = divmod(second, 3600)
    minute, sec = divmod(rest, 60)
    shown = f"{year:04d}" if year >= 0 else f"-{-year:04d}"
    return f"{shown}-{moment.month:02d}-{moment.day:02d}T{hour:02d}:{minute:02d}:{sec:02d}"


#: The range of a SQLite INTEGER (and a PostgreSQL/MySQL BIGINT): `setright_ms` returns
#: only what SQLite can hold, raising nothing.
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
#: The white space `ms_from_any` trims (ASCII, as the server dialects trim).
SPACE = " \t\n\r\f\v"
#: Longest number text read: longer ones are no time (and stay cheap to reject on a server).
NUMBER_CHARS = 64
#: Integer ms; a number that SQLite's NUMERIC affinity (Flamingock's `created_at DATETIME`)
#: turns into a REAL, such as `1767261600000.5`, is read as that REAL cut towards zero.
INTEGER_TEXT = r"[+-]?[0-9]+"
DECIMAL_TEXT = r"[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]{1,3})?"
#: `yyyy-MM-dd[T ]HH:mm[:ss[.fraction]]` with an optional `Z` or ±hh[[:]mm]; the same
#: text, group for group, as PostgreSQL's `audit_ms_sql` reads (db/postgres.py).
MOMENT_TEXT = (r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})"
               r"(:([0-9]{2})([.]([0-9]+))?)?([Zz]|([+-])([0-9]{2})(:?([0-9]{2}))?)?")
_INTEGER = re.compile(INTEGER_TEXT)
_DECIMAL = re.compile(DECIMAL_TEXT)
_MOMENT = re.compile(MOMENT_TEXT)


def ms_from_any(value: object) -> int | None:
    """Epoch ms from what an audit row may hold: integer ms, ISO-8601 or
    `yyyy-MM-dd HH:mm:ss.SSS` (zone-less text is UTC); None for anything else.

    Total: it runs inside SQL (`setright_ms`), where raising fails the whole statement, so
    an impossible date (`2026-13-45T99:99:99Z`), a number outside a 64-bit integer, NaN or
    infinity is None (the fold reads it as -1). Fractions beyond ms are cut, as Java's
    `toEpochMilli` does. PostgreSQL's `audit_ms_sql` reads text by the same rules.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if INT64_MIN <= value <= INT64_MAX else None
    if isinstance(value, float):
        return _truncated(value)
    text = str(value).strip(SPACE)
    if len(text) <= NUMBER_CHARS and _INTEGER.fullmatch(text):
        whole = int(text)
        if INT64_MIN <= whole <= INT64_MAX:
            return whole
    if len(text) <= NUMBER_CHARS and _DECIMAL.fullmatch(text):
        return _truncated(float(text))
    match = _MOMENT.fullmatch(text)
    return _moment_ms(match.groups()) if match else None


def _truncated(number: float) -> int | None:
    """A REAL as integer ms, cut towards zero (what `int()` does); None outside int64."""
    if not math.isfinite(number) or not float(INT64_MIN) <= number < -float(INT64_MIN):
        return None
    return int(number)


def _days_in_month(year: int, month: int) -> int:
    """`calendar.monthrange(year, month)[1]`, without importing `calendar` (and `locale`)
    into every command."""
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 29 if month == 2 and leap else 28 if month == 2 else 30 if month in (4, 6, 9, 11) else 31


def _moment_ms(groups: tuple[str | None, ...]) -> int | None:
    """`MOMENT_TEXT`'s groups as epoch ms, None where a field is out of its range."""
    year, month, day, hour, minute = (int(g or 0) for g in groups[:5])
    second = int(groups[6] or 0)
    millis = int(((groups[8] or "") + "000")[:3])
    sign, off_hour, off_minute = groups[10], int(groups[11] or 0), int(groups[13] or 0)
    if not (year >= 1 and 1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)
            and hour <= 23 and minute <= 59 and second <= 59 and off_hour <= 23
            and off_minute <= 59):
        return None
    days = (date(year, month, day) - _EPOCH_DAY).days
    offset = (off_hour * 60 + off_minute) * (-1 if sign == "-" else 1)
    return ((days * 1440 + hour * 60 + minute - offset) * 60 + second) * 1000 + millis


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: object) -> float:
    """Seconds from `60s`, `5m`, `1d`, `250ms` or a bare number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 60s, 5m, 1h, 1d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
