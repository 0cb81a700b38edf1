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
from operator import attrgetter
from typing import Any

from setright.planner.model import Action, Plan, plain
from setright.render.style import column_texts, filled_texts, to_json

#: actions per piece: big enough to write in a few calls, small enough to reuse memory
CHUNK = 500

_encode_string = json.encoder.encode_basestring   # the C one where present
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
    """The text of each value (one field of many actions) at `newline`'s depth; what no
    column rule covers goes through `to_json` as `plain` leaves it."""
    return column_texts(values, newline, _nested)


_ITEM, _FIELD = "\n    ", "\n      "   # an action's lines, its fields' lines


def _action_texts(actions: list[Action]) -> list[str]:
    """Each action's text, at its place in the plan's list of actions."""
    inner = _FIELD + "  "
    guards = list(map(attrgetter("guard"), actions))
    cells = {key: _column(list(map(attrgetter(key), actions)), _FIELD) for key in _ATTRIBUTES}
    cells["kind"] = _column([str(a.kind) for a in actions], _FIELD)
    cells["outcome"] = _column([str(a.outcome) for a in actions], _FIELD)
    cells["guard"] = filled_texts("{" + inner, "," + inner, _FIELD + "}",
                             ['"fingerprint": ', '"data": '],
                             [_column(list(map(attrgetter("fingerprint"), guards)), inner),
                              _column(list(map(attrgetter("data"), guards)), inner)])
    return filled_texts("{" + _FIELD, "," + _FIELD, _ITEM + "}",
                   [_encode_string(key) + ": " for key in _ACTION_KEYS],
                   [cells[key] for key in _ACTION_KEYS])
