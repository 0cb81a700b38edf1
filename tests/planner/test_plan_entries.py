"""A loaded entry in the planner's terms, and the entry dict an action records."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from setright.planner.build import to_plan_entry
from setright.planner.entries import PlanEntry
from setright.resolutions.model import RedriveEntry, ResolutionEntry, ResolutionFile


def _as_written(entry: PlanEntry) -> dict[str, Any]:
    """The entry dict by its definition: every field the file can set, None left out."""
    data: dict[str, Any] = {"line": entry.line}
    if entry.kind == "resolution":
        data.update(change=entry.subject, resolution=entry.resolution,
                    expect=list(entry.expect) or None, target=entry.target)
    else:
        data.update(apply=entry.subject, force=entry.force)
        if entry.accept_drift:
            data["accept_drift"] = True
    data.update(note=entry.note, reason=entry.reason, ticket=entry.ticket)
    return {k: v for k, v in data.items() if v is not None}


OPTIONAL = list(itertools.product([None, 7], [None, "a note"], [None, "why"], [None, "T-1"]))


@pytest.mark.parametrize("line,note,reason,ticket", OPTIONAL)
def test_the_entry_dict_keeps_what_is_set_in_order(line, note, reason, ticket) -> None:
    common = {"file": "f.yaml", "line": line, "note": note, "reason": reason, "ticket": ticket}
    for entry in (
        PlanEntry(kind="resolution", subject="c", resolution="APPLIED", **common),
        PlanEntry(kind="resolution", subject="c", resolution="ROLLED_BACK",
                  expect=("FAILED", "STARTED"), target="db", **common),
        PlanEntry(kind="redrive", subject="ap-1", **common),
        PlanEntry(kind="redrive", subject="ap-1", force=True, accept_drift=True, **common),
    ):
        got = entry.as_entry_dict()
        assert (got, list(got)) == (_as_written(entry), list(_as_written(entry)))


def test_to_plan_entry_is_the_planner_entry_of_each_kind() -> None:
    file = ResolutionFile(path="resolutions/a.yaml", abs_path=Path("/p/resolutions/a.yaml"),
                          digest="sha256:0", reason="why", ticket="T-1", author=None,
                          entries=(), data={})
    mark = ResolutionEntry(subject="c", file=file.path, index=0, line=4, column=5, note="n",
                           resolution="APPLIED", expect=("FAILED",), target="db")
    redrive = RedriveEntry(subject="ap-1", file=file.path, index=0, line=9, column=5,
                           force=True, accept_drift=True)
    assert to_plan_entry(mark, file) == PlanEntry(
        kind="resolution", subject="c", file=file.path, line=4, resolution="APPLIED",
        expect=("FAILED",), target="db", note="n", reason="why", ticket="T-1")
    made = to_plan_entry(redrive, file)
    assert made == PlanEntry(kind="redrive", subject="ap-1", file=file.path, line=9,
                             force=True, accept_drift=True, reason="why", ticket="T-1")
    assert vars(made) == vars(PlanEntry(kind="redrive", subject="ap-1", file=file.path, line=9,
                                        force=True, accept_drift=True, reason="why",
                                        ticket="T-1"))
