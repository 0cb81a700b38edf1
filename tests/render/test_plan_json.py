"""`plan_json_text` writes exactly what `json.dumps(plan.as_dict(), indent=2, …)` writes."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import pytest

from setright.planner.model import Action, ActionKind, Guard, Outcome, Plan, ResolutionFileRef
from setright.render import plan_json as pieces
from setright.render.plan import plan_json
from setright.render.plan_json import plan_json_pieces, plan_json_text
from setright.render.style import to_json

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import build as bench  # noqa: E402


class Colour(str, Enum):
    RED = "red"


@dataclass
class Point:
    x: int
    label: str


def _action(n: int, **changes: object) -> Action:
    fields: dict[str, object] = dict(
        address=f'resolution.change["c-{n}"]', kind=ActionKind.RESOLVE, outcome=Outcome.CHANGE,
        file="resolutions/a.yaml", entry_key=f"resolution:c-{n}", before="FAILED",
        after="MANUAL_MARKED_AS_APPLIED",
        guard=Guard(f"dh1:{n:064x}", {"change_id": f"c-{n}", "audit_id": n, "state": "FAILED",
                                      "target": "db", "latest_task": None}),
        entry={"line": 5 + n, "change": f"c-{n}", "resolution": "APPLIED",
               "expect": ["FAILED"], "reason": "r", "ticket": "T-1"},
        target="db", messages=["FAILED: failed outside a transaction"])
    fields.update(changes)
    return Action(**fields)  # type: ignore[arg-type]


def _plan(actions: list[Action], **changes: object) -> Plan:
    fields: dict[str, object] = dict(
        plan_id="pl-1", created_at="2026-01-01T00:00:00.000Z", setright_version="0",
        deepdiff_version="9", store={"url": "sqlite:///s.db", "lineage": None, "serial": 3},
        resolution_files=[ResolutionFileRef("resolutions/a.yaml", "sha256:00", "why", None, "me")],
        actions=actions)
    fields.update(changes)
    return Plan(**fields)  # type: ignore[arg-type]


REDRIVE = _action(
    99, address='redrive.apply["ap-1"]', kind=ActionKind.REDRIVE, outcome=Outcome.CONFLICT,
    entry_key="redrive:ap-1", before="failed", after="failed", target="bench",
    guard=Guard("dh1:ff", {"apply_id": "ap-1", "tasks": [{"position": 1, "state": "failed"},
                                                          {"position": 2, "state": None}],
                           "live_schema": "unreachable: no", "counts": [[1, 2], [], [3]]}),
    entry={"line": 3, "apply": "ap-1", "force": False, "accept_drift": True},
    fresh_plan={"fingerprint": "dh1:aa", "changes": [{"change_id": "x", "checksum": "h1:1"}]},
    remaining_work=[{"position": 1, "change_id": "x", "task_state": "failed",
                     "operations_total": 9, "from_seq": 3, "to_seq": 9,
                     "operations_to_run": 7}],
    completed_work=[], messages=["the fresh plan does not match:", "  operation 3 changed"],
    drift=["table items: column added"], warnings=["no failure-time snapshot"])

PLANS = {
    "empty": _plan([]),
    "one": _plan([_action(1)]),
    "alike": _plan([_action(n) for n in range(5)]),
    "mixed": _plan([
        _action(1),
        _action(2, before=None, after=None, outcome=Outcome.CONFLICT, target=None,
                guard=Guard("dh1:00", {}), messages=["change 'c-2' is not in the audit store"]),
        _action(3, guard=Guard("dh1:03", {"change_id": "c-3", "audit_id": 7, "state": "STARTED",
                                          "target": "db", "latest_task": {
                                              "apply_id": "ap-9", "position": 2,
                                              "state": "running", "apply_state": "running"}})),
        _action(4, entry={"line": 9, "change": "c-4", "resolution": "ROLLED_BACK",
                          "expect": ["FAILED", "ROLLED_BACK"], "target": "db",
                          "note": "ü ✓ \n \t \" \\ \x00 \u2028 😀 100%s %(x)s", "reason": "r"}),
        _action(5, entry={"line": None, "expect": [], "%s": "%", "extra": [1, "a", None, True]},
                messages=[], warnings=["w"], drift=["d1", "d2"]),
        REDRIVE,
        _action(6, entry={"odd": (1, "two"), "enum": Colour.RED, "point": Point(1, "p"),
                          "float": 1.5, "nan": float("nan"), "big": 2**70, "flag": False,
                          "nested": {"empty": {}, "list": [[]], "deep": [{"a": [{}]}]},
                          1: "int key", None: "none key"},
                guard=Guard("dh1:06", {"path": Path("a/b"), "mixed": ["a", 1, 2.0, None, {}]})),
        _action(7, messages=("a tuple",), drift=[Colour.RED], kind=ActionKind.RESOLVE),
    ], warnings=["a warning"], errors=["an error"], unreadable_files=["x.yaml"],
        invalid_files=["y.yaml"]),
    "synthetic": bench.synthetic_plan(50, conflicts=3),
    # columns the same all the way down, '%' in them: written once into the template
    "constant": _plan([_action(1, messages=["100%s %(x)s done"], entry={"%s": "%d", "n": 1}),
                       _action(2, messages=["100%s %(x)s done"], entry={"%s": "%d", "n": 1}),
                       _action(3, messages=["100%s %(x)s done"], entry={"%s": "%d", "n": 1})]),
}


@pytest.mark.parametrize("name", list(PLANS))
def test_plan_json_text_matches_the_standard_library(name: str) -> None:
    plan = PLANS[name]
    expected = json.dumps(plan.as_dict(), indent=2, ensure_ascii=False, default=str)
    assert plan_json_text(plan) == expected
    assert to_json(plan_json(plan)) == expected


def test_a_plan_read_back_from_its_json_is_written_the_same() -> None:
    plan = PLANS["mixed"]
    text = json.dumps(plan.as_dict(), indent=2, ensure_ascii=False, default=str)
    again = Plan.from_dict(json.loads(text))
    assert plan_json_text(again) == json.dumps(again.as_dict(), indent=2, ensure_ascii=False)


def test_the_pieces_are_the_text_whatever_their_size(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = bench.synthetic_plan(23, conflicts=2)
    plan.actions[5:5] = PLANS["mixed"].actions
    expected = json.dumps(plan.as_dict(), indent=2, ensure_ascii=False, default=str)
    for size in (1, 2, 7, 31, 500):
        monkeypatch.setattr(pieces, "CHUNK", size)
        made = list(plan_json_pieces(plan))
        assert "".join(made) == expected
        assert len(made) == 2 + -(-len(plan.actions) // size)
