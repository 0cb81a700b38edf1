"""`made_from` builds a frozen dataclass exactly as its own `__init__` does."""

from __future__ import annotations

import dataclasses

import pytest

from setright.frozen import made_from
from setright.store.applies import TaskRow
from setright.store.audit import CurrentState

ROW = ("ap-1", 3, "c-1", "c1:ab", True, "MANUAL_INTERVENTION", "running", 1, None,
       "2026-11-22T12:00:00.000Z", None)


def test_a_row_is_made_as_the_dataclass_makes_it() -> None:
    fast, slow = made_from(TaskRow, ROW), TaskRow(*ROW)
    assert (fast, hash(fast), vars(fast)) == (slow, hash(slow), vars(slow))
    assert list(vars(fast)) == [f.name for f in dataclasses.fields(TaskRow)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.state = "completed"  # type: ignore[misc]


@pytest.mark.parametrize("values", [ROW[:-1], (*ROW, "extra"), ()])
def test_the_wrong_number_of_values_is_refused(values: tuple) -> None:
    with pytest.raises(TypeError, match="TaskRow takes 11 values"):
        made_from(TaskRow, values)


def test_any_sequence_of_values_will_do() -> None:
    values = ["c-1", 7, "APPLIED", "2026-11-22T12:00:00.000Z", 1795348800000, "db",
              "NON_TX", "MANUAL_INTERVENTION", "ap-1", None]
    assert made_from(CurrentState, values) == CurrentState(*values)
