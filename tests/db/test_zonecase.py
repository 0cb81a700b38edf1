"""A zone's offset as SQL: checked hour by hour against Python's own zoneinfo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from setright.db.zonecase import local_segments, local_to_utc_ms, offset_seconds_sql
from setright.errors import SetrightError


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/New_York", "Australia/Sydney",
                                  "Asia/Kolkata", "UTC"])
def test_every_hour_of_two_years_matches_zoneinfo(name: str) -> None:
    tz = ZoneInfo(name)
    at = datetime(2025, 1, 1, tzinfo=UTC)
    while at < datetime(2027, 1, 1, tzinfo=UTC):
        local = at.astimezone(tz)
        naive = local.replace(tzinfo=None)
        if local.fold == 0:  # the second of a twice-happening local time reads as the first
            assert local_to_utc_ms(name, naive) == int(at.timestamp() * 1000), (name, at)
        at += timedelta(hours=1)


def test_skipped_and_repeated_local_times_follow_java() -> None:
    berlin = "Europe/Berlin"
    # 02:30 on 2026-03-29 never happens: read with the offset before the jump (+1).
    assert local_to_utc_ms(berlin, datetime(2026, 3, 29, 2, 30)) == int(
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC).timestamp() * 1000)
    # 02:30 on 2026-10-25 happens twice: the earlier one (+2).
    assert local_to_utc_ms(berlin, datetime(2026, 10, 25, 2, 30)) == int(
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC).timestamp() * 1000)


def test_sql_shape() -> None:
    assert offset_seconds_sql("UTC", "c") == "0"
    assert offset_seconds_sql("Asia/Kolkata", "c").count("CASE") <= 3
    offsets, boundaries = local_segments("Europe/Berlin")
    assert len(offsets) == len(boundaries) + 1 and boundaries == tuple(sorted(boundaries))
    assert offset_seconds_sql("Europe/Berlin", "c").count("CASE") == len(boundaries)
    with pytest.raises(SetrightError, match="unknown time zone"):
        offset_seconds_sql("Not/AZone", "c")
