"""Clocks, timestamps and durations.

setright's own tables store UTC ISO-8601 text with milliseconds and `Z`; the
audit log stores epoch milliseconds (as Flamingock's JDBC driver does on
SQLite). Core code takes a `Clock` so tests can pin time.
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime, timedelta
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
    seconds, millis = divmod(ms, 1000)
    return f"{_iso_second(seconds)}.{millis:03d}Z"


@lru_cache(maxsize=64)
def _iso_second(seconds: int) -> str:
    """The text of a whole second: a runner formats thousands of times within a few."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


_TEXT_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S")


def ms_from_any(value: object) -> int | None:
    """Epoch ms from what an audit row may hold: integer ms, ISO-8601 or `yyyy-MM-dd HH:mm:ss.SSS`."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    for fmt in _TEXT_FORMATS:
        try:
            dt = datetime.strptime(text, fmt).replace(tzinfo=UTC)
            return _dt_ms(dt)
        except ValueError:
            pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return _dt_ms(dt)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _dt_ms(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(milliseconds=1)


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
