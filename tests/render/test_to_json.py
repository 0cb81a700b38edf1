"""`to_json` writes exactly what `json.dumps(indent=2, ensure_ascii=False, default=str)` writes."""

from __future__ import annotations

import json
import random
from enum import Enum, IntEnum
from pathlib import Path
from typing import Any

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
    # lists of alike objects and lists (a plan's actions), encoded column by column
    [{"a%s": 1, "g": {"f": "x", "d": {"s": None}}, "m": ["one"], "e": [], "n": None},
     {"a%s": "%s", "g": {"f": Colour.RED, "d": {"s": 2.5}}, "m": ["two"], "e": [], "n": [1]},
     {"a%s": True, "g": {"f": Path("p"), "d": {"s": [[]]}}, "m": ["x"], "e": [], "n": {}}],
    [[1, 2], ["a", None], [{"k": 1}, {"k": [2]}]], [[1], [2, 3], []], [[], []],
    [{"a": 1, "b": 2}, {"b": 2, "a": 1}, {}], [{"x": 1}, {"y": 2}], [{1: "a"}, {1: "b"}],
    # a column the same all the way down is written into the template once
    [{"p": "%s %%", "q": None}] * 3, [{"v": 1}, {"v": True}, {"v": 1.0}, {"v": "1"}],
]


@pytest.mark.parametrize("data", CASES, ids=[str(n) for n in range(len(CASES))])
def test_to_json_matches_the_standard_library(data: object) -> None:
    assert to_json(data) == json.dumps(data, indent=2, ensure_ascii=False, default=str)


def _random_value(rng: random.Random, depth: int) -> object:
    """Lists of alike objects, lists of lists, mixed scalars: what the column writer groups."""
    scalars = ["%s", "ü\n\"", "", 0, 1, True, False, None, 2.5, Colour.RED, Level.HIGH]
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(scalars)
    if rng.random() < 0.5:
        keys = rng.sample(["a", "b", "%d", "é", 1], rng.randint(0, 3))
        shape = [rng.random() < 0.5 for _ in keys]
        return [{k: (rng.choice(scalars) if flat else _random_value(rng, depth - 1))
                 for k, flat in zip(keys, shape)} for _ in range(rng.randint(0, 4))]
    return [_random_value(rng, depth - 1) for _ in range(rng.randint(0, 4))]


@pytest.mark.parametrize("seed", range(300))
def test_to_json_matches_the_standard_library_on_generated_data(seed: int) -> None:
    data = _random_value(random.Random(seed), 4)
    assert to_json(data) == json.dumps(data, indent=2, ensure_ascii=False, default=str)


def test_a_key_json_cannot_encode_is_refused_the_same_way() -> None:
    with pytest.raises(TypeError):
        json.dumps({(1, 2): 1}, indent=2)
    with pytest.raises(TypeError):
        to_json({(1, 2): 1})


HOSTILE = ["", "plain", "ü ✓ \n \t \" \\ \x00 \x1f \u2028 😀", "%s %% %(x)s {} \\u0041",
           "\ud800 lone surrogate", "}," + "\n    " + "{", "null", "1"]
#: columns of `objects_json`: repeated and unique text, nulls, numbers, and the mixes the
#: per-value encoding must not confuse (1 and True are equal in Python, not in JSON)
COLUMNS = {
    "one text": ["same"] * 6,
    "texts": HOSTILE[:6],
    "unique": [f"c-{n}" for n in range(6)],
    # all different: encoded in one call, split at the escaped newlines joining them
    "unique, backslashes": ["c\\", "n", "\\\\", "x\\\"", "y\\", "nz"],
    "unique, backslash n": ["a\\nb", "c\\", "n", "\\n", "d\n", "e"],
    "unique, newlines": ["a\nb", "\n", "", "\r\n", "ü\u2028", "😀 \x00"],
    # texts JSON writes as they are, between quotes; and texts it escapes
    "plain texts": ["a b", "ü ✓ 😀", "a b", "%s {}", "", "'"],
    "a quote": ['a"', "b", 'a"', "b", "c", "d"],
    "a backslash": ["a\\b", "c", "d\\", "e", "c", "g"],
    "a separator": ["a", "\u2028", "a", "b", "a", "b"],
    "a delete": ["\x7f", "b", "c", "d", "e", "f"],
    "nulls": [None] * 6,
    "text or null": ["a", None, "a", "b\n", None, "a"],
    "ints": [1, 2, 2, 2**70, -1, 0],
    "int and bool": [1, True, 0, False, 1, None],
    "bools": [True, False, True, True, None, False],
    "floats": [1.0, 1, float("nan"), float("inf"), -0.0, 2.5],
    "subclasses": [Colour.RED, "red", Level.HIGH, 3, Path("p"), None],
    # equal to the values before them, of another type: one memo entry would be wrong
    "text, then an equal enum": ["red", Colour.RED, "red", None, Colour.RED, "blue"],
    "bool, then equal numbers": [True, 1.0, False, 0, True, None],
    "int, then an equal enum": [3, Level.HIGH, 3, 3, None, 1],
    "nested": [{"a": [1, {"b": None}]}, [], {}, ["x", [2]], None, "%s"],
    'key "quoted" ü %s': [True] * 6,
}


def objects_json(*args: Any, **kwargs: Any) -> str:
    from setright.render.style import objects_json_parts

    return "".join(objects_json_parts(*args, **kwargs))


@pytest.mark.parametrize("names", [
    list(COLUMNS), ["one text"], ["nulls", "one text"], ["unique"], ["texts", "one text"],
    ["one text", "unique", "one text"[::-1]], ["int and bool", "floats"], ["nested", "ints"],
    ["text, then an equal enum", "bool, then equal numbers", "int, then an equal enum"],
    ["unique, backslashes", "one text", "unique, backslash n", "unique, newlines", "nulls"],
    ["unique, backslashes"], ["one text", "unique, backslashes"],
    ["plain texts", "a quote", "unique", "a separator", "a delete"], ["plain texts"],
    ["a backslash", "plain texts"],
], ids=str)
@pytest.mark.parametrize("rows", [6, 1])
def test_objects_json_is_to_json_of_the_objects(names: list[str], rows: int) -> None:
    from setright.render.style import objects_json_parts

    columns = [COLUMNS.get(n, COLUMNS["unique"])[:rows] for n in names]
    keys = [n if n in COLUMNS else "reversed" for n in names]
    objects = [dict(zip(keys, values, strict=True)) for values in zip(*columns)]
    assert objects_json(keys, columns) == json.dumps(objects, indent=2, ensure_ascii=False,
                                                     default=str)
    nested = json.dumps({"x": objects}, indent=2, ensure_ascii=False, default=str)
    assert objects_json(keys, columns, "\n  ", before='{\n  "x": ', after="\n}") == nested
    for size in (1, 2, 5):   # in parts of `size` objects (the last one shorter)
        parts = list(objects_json_parts(keys, columns, "\n  ", before='{\n  "x": ',
                                        after="\n}", per_part=size))
        assert "".join(parts) == nested and len(parts) == -(-rows // size)


def test_objects_json_of_no_objects_and_unequal_columns() -> None:
    assert objects_json(["a"], [[]]) == objects_json([], []) == "[]"
    assert objects_json(["a"], [[]], before="(", after=")") == "([])"
    with pytest.raises(ValueError):
        objects_json(["a", "b"], [[1], [1, 2]])
