"""`plain` turns plan dataclasses into exactly what `dataclasses.asdict` would, faster."""

from __future__ import annotations

from dataclasses import asdict

from setright.planner.model import (
    Action, ActionKind, Guard, Outcome, ResolutionFileRef, plain,
)


def test_plain_equals_asdict_and_copies_the_containers() -> None:
    action = Action(
        address='redrive.apply["a-1"]', kind=ActionKind.REDRIVE, outcome=Outcome.CONFLICT,
        file="resolutions/x.yaml", entry_key="redrive:a-1", before="failed", after="failed",
        guard=Guard("dh1:abc", {"tasks": [{"position": 1, "pair": (1, "x")}], "n": None}),
        entry={"line": 3, "expect": ["FAILED"], "nested": {"t": (1, 2)}}, target="app",
        fresh_plan={"changes": []}, remaining_work=[{"from_seq": 2}], completed_work=[],
        messages=["one", "two"])
    assert plain(action) == asdict(action)
    assert list(plain(action)) == list(asdict(action))           # same key order
    copied = plain(action)
    copied["guard"]["data"]["tasks"][0]["position"] = 99
    copied["entry"]["expect"].append("STARTED")
    assert action.guard.data["tasks"][0]["position"] == 1 and action.entry["expect"] == ["FAILED"]
    assert type(plain(action)["guard"]["data"]["tasks"][0]["pair"]) is tuple
    ref = ResolutionFileRef("resolutions/x.yaml", "sha256:00", "why", None, "me")
    assert plain(ref) == asdict(ref)


def test_an_action_as_a_dict_is_plain_with_its_enums_as_text() -> None:
    action = Action(
        address='resolution.change["c"]', kind=ActionKind.RESOLVE, outcome=Outcome.CHANGE,
        file="resolutions/x.yaml", entry_key="resolution:c", before="FAILED",
        after="MANUAL_MARKED_AS_APPLIED", guard=Guard("dh1:abc", {"latest_task": {"p": 1}}),
        entry={"line": 3, "expect": ["FAILED"]}, target="app", remaining_work=[{"a": 1}],
        messages=["one"], drift=["d"], warnings=["w"])
    expected = {**asdict(action), "kind": "resolve", "outcome": "change"}
    assert action.as_dict() == expected and list(action.as_dict()) == list(expected)
    assert type(action.as_dict()["kind"]) is str
    assert Action.from_dict(action.as_dict()) == action
