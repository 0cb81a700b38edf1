"""The JSON view of a plan (`plan --format json`), written straight from the model.

`render.plan.plan_json` is the plan as a dict; `to_json` of it is the JSON view. Here
the same bytes are written without that dict, in pieces: a 10,000-entry plan is 11 MB
of JSON, and building it whole (a dict per action, then the text, then one string and
its encoded copy) touched some 50 MB of fresh memory, whose page faults cost more than
the writing. Pieces of `CHUNK` actions are written as they are made, and reuse memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import chain, islice
from operator import attrgetter, itemgetter
from typing import Any

from setright.planner.model import Action, Plan, plain
from setright.render.style import to_json

#: actions per piece: big enough to write in a few calls, small enough to reuse memory
CHUNK = 500

_encode_string = json.encoder.encode_basestring   # the C one where present
_STR = frozenset({str})
#: an action's keys, in `Action.as_dict`'s order
_ACTION_KEYS = ("address", "kind", "outcome", "file", "entry_key", "before", "after", "guard",
                "entry", "target", "fresh_plan", "remaining_work", "completed_work",
                "messages", "drift", "warnings")
_ATTRIBUTES = tuple(k for k in _ACTION_KEYS if k not in ("kind", "outcome", "guard"))


def plan_json_text(plan: Plan) -> str:
    """`to_json(plan_json(plan))`, byte for byte: `plan_json_pieces` joined."""
    return "".join(plan_json_pieces(plan))


def plan_json_pieces(plan: Plan) -> Iterator[str]:
    """`to_json(plan_json(plan))` in pieces, without building the dict of every action.

    The actions are written column by column from the model, `CHUNK` at a time: each
    field of those actions at once (all addresses in one C call), alike objects (entries
    with the same keys) filled into one template. Whatever is not a string, a number,
    null, a list of strings or a mapping goes through `to_json` as `plain` leaves it,
    re-indented for its depth (only structure puts a newline in `to_json`'s text:
    strings escape theirs). An action's text depends on nothing but the action.
    """
    head, glue = "{", "\n  "
    for key, value in plan.fields(actions=None).items():
        head += glue + _encode_string(key) + ": "
        glue = ",\n  "
        if key != "actions":
            head += _nested(value, "\n  ")
        elif not plan.actions:
            head += "[]"
        else:
            yield head
            head = ""
            for start in range(0, len(plan.actions), CHUNK):
                texts = _action_texts(plan.actions[start:start + CHUNK])
                yield ("[" if start == 0 else ",") + _ITEM + ("," + _ITEM).join(texts)
            head = "\n  ]"
    yield head + "\n}"


def _nested(value: Any, newline: str) -> str:
    """`value` as `to_json` writes it inside a container whose items start at `newline`."""
    return to_json(plain(value)).replace("\n", newline)


def _column(values: list[Any], newline: str) -> list[str]:
    """The text of each value (one field of many objects) at `newline`'s depth: values of
    one type together, strings, numbers and nulls in one C call."""
    kinds = set(map(type, values))
    if len(kinds) > 1:
        return _mixed(values, newline)
    kind = kinds.pop() if kinds else str
    if kind is str:
        return list(map(_encode_string, values))
    if kind is _NONE:
        return ["null"] * len(values)
    if kind is int:
        return list(map(int.__repr__, values))
    if kind is list:
        return _lists(values, newline)
    if kind is dict:
        return _objects(values, newline)
    return [_nested(v, newline) for v in values]


_NONE = type(None)


def _mixed(values: list[Any], newline: str) -> list[str]:
    """`_column` of values of several types: each type's values as one column."""
    where: dict[type, list[int]] = {}
    for at, value in enumerate(values):
        where.setdefault(type(value), []).append(at)
    out = [""] * len(values)
    for places in where.values():
        for at, text in zip(places, _column([values[i] for i in places], newline),
                            strict=True):
            out[at] = text
    return out


def _lists(values: list[list[Any]], newline: str) -> list[str]:
    """Lists, their items one a line: every item of every list as one column."""
    inner = newline + "  "
    glue = "," + inner
    texts = iter(_column(list(chain.from_iterable(values)), inner))
    sizes = set(map(len, values))
    if len(sizes) == 1:   # lists of one length (a message each): one template
        size = sizes.pop()
        if not size:
            return ["[]"] * len(values)
        template = "[" + inner + glue.join(["%s"] * size) + newline + "]"
        return [template % cells for cells in zip(*[texts] * size)]
    return ["[" + inner + glue.join(islice(texts, len(v))) + newline + "]" if v else "[]"
            for v in values]


def _objects(values: list[dict[Any, Any]], newline: str) -> list[str]:
    """Mappings: those with the same str keys in the same order share a template, filled
    from one column per key."""
    inner = newline + "  "
    out = [""] * len(values)
    shapes = list(map(tuple, values))
    alike: dict[tuple[Any, ...], list[int]] = {}
    if shapes.count(shapes[0]) == len(shapes):   # all alike (checked in C)
        alike[shapes[0]] = list(range(len(values)))
    else:
        for at, keys in enumerate(shapes):
            alike.setdefault(keys, []).append(at)
    for keys, where in alike.items():
        if not keys or not _STR.issuperset(map(type, keys)):
            for at in where:
                out[at] = _nested(values[at], newline)
            continue
        members = values if len(where) == len(values) else [values[at] for at in where]
        columns = [_column(list(map(itemgetter(k), members)), inner) for k in keys]
        texts = _filled("{" + inner, "," + inner, newline + "}",
                        [_encode_string(k) + ": " for k in keys], columns)
        if len(where) == len(values):
            return texts
        for at, text in zip(where, texts, strict=True):
            out[at] = text
    return out


def _filled(start: str, glue: str, end: str, heads: list[str], columns: list[list[str]]
            ) -> list[str]:
    """`start + glue.join(head + cell ...) + end` for each row of `columns`: one template,
    in which a column that is the same all the way down (`null`, a shared state) is
    written once instead of filled in for every row."""
    parts, varying = [], []
    for head, column in zip(heads, columns, strict=True):
        if column.count(column[0]) == len(column):
            parts.append((head + column[0]).replace("%", "%%"))
        else:
            parts.append(head.replace("%", "%%") + "%s")
            varying.append(column)
    template = (start + glue.join(parts) + end)
    if not varying:
        return [template % ()] * len(columns[0])
    return [template % cells for cells in zip(*varying)]


_ITEM, _FIELD = "\n    ", "\n      "   # an action's lines, its fields' lines


def _action_texts(actions: list[Action]) -> list[str]:
    """Each action's text, at its place in the plan's list of actions."""
    inner = _FIELD + "  "
    guards = list(map(attrgetter("guard"), actions))
    cells = {key: _column(list(map(attrgetter(key), actions)), _FIELD) for key in _ATTRIBUTES}
    cells["kind"] = _column([str(a.kind) for a in actions], _FIELD)
    cells["outcome"] = _column([str(a.outcome) for a in actions], _FIELD)
    cells["guard"] = _filled("{" + inner, "," + inner, _FIELD + "}",
                             ['"fingerprint": ', '"data": '],
                             [_column(list(map(attrgetter("fingerprint"), guards)), inner),
                              _column(list(map(attrgetter("data"), guards)), inner)])
    return _filled("{" + _FIELD, "," + _FIELD, _ITEM + "}",
                   [_encode_string(key) + ": " for key in _ACTION_KEYS],
                   [cells[key] for key in _ACTION_KEYS])
