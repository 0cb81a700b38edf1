"""The made-once encoders write exactly what `json.dumps` writes for the same form."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from setright.jsontext import canonical_json, sorted_json

VALUES: list[Any] = [
    {"position": 0}, {"position": 7}, {"seq": -3}, {"seq": 10**20}, {"seq": True},
    {"position": 1.5}, {"position": "7"}, {"position": None}, {"reason": "x"},
    {"position": 2, "reason": "moved"}, {"seq": 1, "position": 2}, {'po"s': 1},
    {"b": [1, 2.25, None, False], "a": {"z": "é", "y": "\u2028\n\t\\"}},
    {"actor": "ops@例え.jp", "emoji": "🚀", "nul": "\x00"},
    [{"k": 1}, [], {}], "text", "ünï", 3, 2.5e-300, None, True, [],
]


@pytest.mark.parametrize("data", VALUES)
def test_sorted_json_is_json_dumps_with_sorted_keys(data: Any) -> None:
    assert sorted_json(data) == json.dumps(data, sort_keys=True)


@pytest.mark.parametrize("ascii", [False, True])
@pytest.mark.parametrize("data", VALUES)
def test_canonical_json_is_the_compact_sorted_dumps(data: Any, ascii: bool) -> None:
    assert canonical_json(data, ascii=ascii) == json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii, default=str)


def test_canonical_json_writes_other_values_as_text_and_sorted_json_refuses_them() -> None:
    moment = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.timezone.utc)
    assert canonical_json({"at": moment}) == '{"at":"2026-12-02 12:00:00+00:00"}'
    with pytest.raises(TypeError):
        sorted_json({"at": moment})


def test_an_error_in_one_call_leaves_the_next_intact() -> None:
    with pytest.raises(TypeError):
        sorted_json({"a": [1, object()]})
    assert sorted_json({"a": [1, 2]}) == '{"a": [1, 2]}'
