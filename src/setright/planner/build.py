"""Building a plan: every unapplied entry evaluated, then conflicts between entries.

The same `evaluate_entries` runs at plan time and again inside `apply`'s
write transaction, so "re-evaluate the whole outcome table" is one code path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from setright import __version__
from setright.db import Connection
from setright.fingerprint import deepdiff_version
from setright.ids import new_id
from setright.planner.entries import PlanEntry
from setright.planner.model import Action, ActionKind, Outcome, Plan, ResolutionFileRef
from setright.planner.context import RedriveContext
from setright.planner.resolve import evaluate_resolution, resolution_guards
from setright.frozen import made
from setright.resolutions.model import RedriveEntry, ResolutionEntry, ResolutionFile
from setright.timeutil import iso_from_ms
from setright.redact import mask_password


def to_plan_entry(entry: ResolutionEntry | RedriveEntry, file: ResolutionFile) -> PlanEntry:
    """A loaded resolution-file entry in the planner's terms (one per entry of a plan: made
    as `PlanEntry(...)` makes it, every field given, without its per-field setattr)."""
    if isinstance(entry, RedriveEntry):
        return made(PlanEntry, {
            "kind": "redrive", "subject": entry.subject, "file": file.path, "line": entry.line,
            "resolution": None, "expect": (), "target": None, "force": entry.force,
            "accept_drift": entry.accept_drift, "note": entry.note, "reason": file.reason,
            "ticket": file.ticket, "extra": {}})
    return made(PlanEntry, {
        "kind": "resolution", "subject": entry.subject, "file": file.path, "line": entry.line,
        "resolution": entry.resolution, "expect": entry.expect, "target": entry.target,
        "force": False, "accept_drift": False, "note": entry.note, "reason": file.reason,
        "ticket": file.ticket, "extra": {}})


def evaluate_entries(conn: Connection, entries: Sequence[PlanEntry],
                     ctx: RedriveContext) -> list[Action]:
    """The outcome of every entry, including conflicts between entries."""
    marks = [e for e in entries if e.kind == "resolution"]
    guards = dict(zip((id(e) for e in marks),
                      resolution_guards(conn, [e.subject for e in marks], now_ms=ctx.now_ms,
                                        lock_table=ctx.flamingock_lock_table), strict=True))
    if len(marks) < len(entries):
        from setright.planner.redrive import evaluate_redrive  # lazy: the runner's code
    actions = [evaluate_resolution(conn, e, now_ms=ctx.now_ms, guarded=guards[id(e)],
                                   lock_table=ctx.flamingock_lock_table)
               if e.kind == "resolution" else evaluate_redrive(conn, e, ctx) for e in entries]
    _cross_conflicts(actions)
    return actions


def _conflict(action: Action, message: str) -> None:
    action.outcome = Outcome.CONFLICT
    action.after = action.before
    if message not in action.messages:
        action.messages.insert(0, message)  # the reason it cannot be applied comes first


def _cross_conflicts(actions: list[Action]) -> None:
    """Two entries for one change, two redrives for one target, a redrive and a mark of its change."""
    if all(a.kind == ActionKind.RESOLVE for a in actions):
        subjects = [a.subject for a in actions]
        if len(set(subjects)) == len(subjects):
            return   # marks only, each of its own change (a plan of 10,000: no grouping)
    by_change: dict[str, list[Action]] = defaultdict(list)
    by_target: dict[str, list[Action]] = defaultdict(list)
    for a in actions:
        if a.kind == ActionKind.RESOLVE:
            by_change[a.subject].append(a)
        elif a.target:
            by_target[a.target].append(a)
    for group in by_change.values():
        for a in group if len(group) > 1 else ():
            others = ", ".join(o.place for o in group if o is not a)
            _conflict(a, f"another entry in the plan touches change {a.subject!r}: {others}")
    for target, group in by_target.items():
        for a in group if len(group) > 1 else ():
            others = ", ".join(o.place for o in group if o is not a)
            _conflict(a, f"another redrive in the plan is for target {target!r}: {others}")
    for redrive in (a for a in actions if a.kind == ActionKind.REDRIVE):
        touched = {w["change_id"] for w in redrive.remaining_work or []}
        for change_id in sorted(touched & set(by_change)):
            for mark in by_change[change_id]:
                _conflict(redrive, f"a resolution in the plan marks its change {change_id!r}: "
                          f"{mark.place}")
                _conflict(mark, f"redrive of apply {redrive.subject} in the plan re-runs this "
                          f"change: {redrive.place}")


def build_plan(conn: Connection, *, entries: Sequence[PlanEntry],
               files: Sequence[ResolutionFile], ctx: RedriveContext, store_url: str,
               lineage: str | None, serial: int, warnings: Sequence[str] = (),
               errors: Sequence[str] = ()) -> Plan:
    """A plan of `entries` (the unapplied ones) against the store as `conn` sees it now.

    What an action could not check (a redrive without a failure-time snapshot) is also
    one of the plan's warnings, so every view shows it where warnings are shown."""
    actions = evaluate_entries(conn, entries, ctx)
    return Plan(
        plan_id=new_id("pl", ctx.now_ms),
        created_at=iso_from_ms(ctx.now_ms),
        setright_version=__version__,
        deepdiff_version=deepdiff_version(),
        store={"url": mask_password(store_url), "lineage": lineage, "serial": serial},
        resolution_files=[ResolutionFileRef(f.path, f.digest, f.reason, f.ticket, f.author)
                          for f in files],
        actions=actions,
        warnings=[*warnings, *(f"{a.address}: {w}" for a in actions for w in a.warnings)],
        errors=list(errors),
    )
