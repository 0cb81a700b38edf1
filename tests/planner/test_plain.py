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
