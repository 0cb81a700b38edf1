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
