"""`to_json` writes exactly what `json.dumps(indent=2, ensure_ascii=False, default=str)` writes."""

from __future__ import annotations

import json
from enum import Enum, IntEnum
from pathlib import Path

import pytest

from setright.render.style import to_json


class Colour(str, Enum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


CASES = [
    {}, [], "", 0, -1, 2**70, 1.5, -0.0, 1e300, float("nan"), float("inf"), float("-inf"),
    True, False, None, "ü ✓ \n \t \" \\ \x00 \u2028 😀", Colour.RED, Level.HIGH, Path("a/b"),
    (1, (2, [])), {"a": {}, "b": [], "c": [{}], "d": [[], [[]]]},
    {1: "int key", 2.5: "float key", True: "bool key", None: "none key", "é": "text"},
    {"issues": [{"change_id": "c-1", "state": "FAILED", "n": 3, "ok": False,
                 "nested": {"x": [1, 2.0, "3", None, {"y": Colour.RED}]}}] * 3},
]


@pytest.mark.parametrize("data", CASES, ids=[str(n) for n in range(len(CASES))])
def test_to_json_matches_the_standard_library(data: object) -> None:
    assert to_json(data) == json.dumps(data, indent=2, ensure_ascii=False, default=str)


def test_a_key_json_cannot_encode_is_refused_the_same_way() -> None:
    with pytest.raises(TypeError):
        json.dumps({(1, 2): 1}, indent=2)
    with pytest.raises(TypeError):
        to_json({(1, 2): 1})
