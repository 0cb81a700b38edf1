"""A zone's UTC offset as plain SQL, computed from Python's tz database.

Flamingock writes `created_at` on MySQL as the JVM's zone-less local time.
Reading it in `store.timezone` with `CONVERT_TZ(col, 'Europe/Berlin', …)`
needs the server's time-zone tables, which many servers (this project's
MariaDB among them) never load — `CONVERT_TZ` then returns NULL. Instead the
offset is an SQL `CASE` over the zone's transitions, built here from
`zoneinfo`: it needs nothing on the server and gives the same answer on every
server. The CASE is a balanced tree, so a row costs ~log2(transitions)
comparisons.

Local times that happen twice (the hour a clock falls back) are read with the
earlier offset and local times that never happen (the hour skipped in spring)
with the offset before the jump — Java's `LocalDateTime.atZone` rule.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from setright.errors import SetrightError

FIRST_YEAR, LAST_YEAR = 1970, 2100
_DAY = timedelta(days=1)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SetrightError(f"unknown time zone {name!r}",
                            ["store.timezone takes an IANA name such as UTC or Europe/Berlin"]
                            ) from None


def _offset(tz: ZoneInfo, at: datetime) -> int:
    value = at.astimezone(tz).utcoffset()
    return int(value.total_seconds()) if value is not None else 0


@lru_cache(maxsize=32)
def local_segments(name: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """(offsets, boundaries): offsets[k] holds for local times in [boundaries[k-1], boundaries[k])."""
    tz = zone(name)
    at = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
    end = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)
    offsets = [_offset(tz, at)]
    boundaries: list[str] = []
    while at < end:
        step = at + _DAY
        if _offset(tz, step) != offsets[-1]:
            low, high = at, step          # bisect to the second of the transition
            while high - low > timedelta(seconds=1):
                mid = low + (high - low) / 2
                if _offset(tz, mid) == offsets[-1]:
                    low = mid
                else:
                    high = mid
            after = _offset(tz, high)
            local = high.replace(tzinfo=None) + timedelta(seconds=max(offsets[-1], after))
            boundaries.append(local.strftime("%Y-%m-%d %H:%M:%S"))
            offsets.append(after)
        at = step
    return tuple(offsets), tuple(boundaries)


def offset_seconds_sql(name: str, expr: str) -> str:
    """SQL giving the UTC offset (seconds) of `expr`, a zone-less local DATETIME in zone `name`."""
    offsets, boundaries = local_segments(name)

    def tree(low: int, high: int) -> str:
        if low == high:
            return str(offsets[low])
        mid = (low + high) // 2
        return (f"CASE WHEN {expr} < '{boundaries[mid]}' THEN {tree(low, mid)}"
                f" ELSE {tree(mid + 1, high)} END")

    return tree(0, len(offsets) - 1)


def local_to_utc_ms(name: str, local: datetime) -> int:
    """The Python twin of `offset_seconds_sql`, for tests and for values read in Python."""
    offsets, boundaries = local_segments(name)
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    k = bisect_right(boundaries, text)
    epoch = (local - datetime(1970, 1, 1)) // timedelta(milliseconds=1)
    return epoch - offsets[k] * 1000
