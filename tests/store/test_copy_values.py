"""Fitting copied values to the destination's columns, and the canonical digest."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from setright.errors import StoreError
from setright.store.copy_values import Digest, Unfit, canonical, fit_row, fitters

T = 1_795_348_800_250  # 2026-11-22T12:00:00.250Z


def fit(kind: str, value: object, timezone: str = "UTC") -> object:
    [one] = fitters([kind], timezone)
    return one(value)


def test_canonical_forms_do_not_know_the_database() -> None:
    assert canonical(5) == canonical("5") == canonical(5.0) == canonical(Decimal("5.00"))
    assert canonical(True) == canonical(1) and canonical(False) == canonical(0)
    assert canonical(None) != canonical("") != canonical("n")
    assert canonical(12.5) == canonical(Decimal("12.5"))
    assert canonical(datetime(2026, 11, 22, 12, 0, 0, 250_000, tzinfo=UTC)) == canonical(T)
    # a zone-less time is wall-clock time in the store's zone
    assert canonical(datetime(2026, 11, 22, 13, 0, 0, 250_000), "Europe/Berlin") == canonical(T)
    assert canonical(b"\x00\xff") != canonical("\x00\xff")


@pytest.mark.parametrize(("kind", "value", "fitted"), [
    ("integer", "42", 42), ("integer", 42.0, 42), ("integer", True, 1), ("integer", None, None),
    ("real", "1.5", 1.5), ("real", 2, 2),
    ("text", 7, "7"), ("text", b"abc", "abc"), ("text", "x", "x"),
    ("boolean", 1, True), ("boolean", "0", False), ("boolean", True, True),
    ("any", True, 1), ("any", Decimal("3"), 3), ("any", "2026-11-22T12:00:00.250Z",
                                                  "2026-11-22T12:00:00.250Z"),
    ("timestamptz", T, datetime(2026, 11, 22, 12, 0, 0, 250_000, tzinfo=UTC)),
])
def test_values_that_fit(kind: str, value: object, fitted: object) -> None:
    got = fit(kind, value)
    assert got == fitted and type(got) is type(fitted)


def test_times_fit_as_wall_clock_time_in_the_store_zone_and_back() -> None:
    wall = fit("timestamp", T, "Europe/Berlin")
    assert wall == datetime(2026, 11, 22, 13, 0, 0, 250_000)
    assert fit("timestamp", "2026-11-22T12:00:00.250Z", "Europe/Berlin") == wall
    assert fit("any", wall, "Europe/Berlin") == T  # a server's TIMESTAMP into SQLite: ms
    assert fit("integer", wall, "Europe/Berlin") == T


@pytest.mark.parametrize(("kind", "value"), [
    ("integer", "n/a"), ("integer", "05"), ("integer", " 5"), ("integer", 1.5),
    ("real", "fast"), ("boolean", 2), ("timestamp", "yesterday"), ("text", b"\xff"),
])
def test_values_that_do_not_fit(kind: str, value: object) -> None:
    with pytest.raises(Unfit):
        fit(kind, value)


def test_a_row_that_does_not_fit_names_table_column_and_key() -> None:
    fit_all = fitters(["integer", "integer"], "UTC")
    assert fit_row((1, "2"), fit_all, "t", ["id", "n"], [1]) == (1, 2)
    with pytest.raises(StoreError) as refused:
        fit_row((17, "n/a"), fit_all, "flamingockAuditLog", ["id", "execution_millis"], [17])
    assert refused.value.message == ("flamingockAuditLog.execution_millis of row (17) does not "
                                     "fit the destination: 'n/a' is not an integer")


def test_the_digest_ignores_row_order_but_not_content() -> None:
    rows = [(1, "a", None), (2, "b", 3), (3, "c", 4.5)]
    one, other, changed, fewer = Digest(), Digest(), Digest(), Digest()
    for row in rows:
        one.add(row)
        changed.add(row if row[0] != 2 else (2, "b", 4))
    for row in reversed(rows):
        other.add(row)
    for row in rows[:2]:
        fewer.add(row)
    assert one.hexdigest() == other.hexdigest()
    assert one.hexdigest() != changed.hexdigest()
    assert one.hexdigest() != fewer.hexdigest()
    assert (one.rows, fewer.rows) == (3, 2)
