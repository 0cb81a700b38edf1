"""Outcome of a resolution entry: mark a change APPLIED or ROLLED_BACK.

| outcome   | when |
|-----------|------|
| change    | the change is an issue and the guards hold; or it is not an issue but `expect` names its current state exactly (a deliberate override) |
| satisfied | the current state already equals the resolution, and it is not an issue |
| conflict  | unknown change; `expect`/`target` mismatch; running or queued; not an issue without an explicit `expect` |

Cross-entry conflicts (two entries for one change) are decided in `build.py`.
"""

from __future__ import annotations

from typing import Any

from setright.db import Connection
from setright.fingerprint import fingerprint
from setright.planner.entries import PlanEntry
from setright.planner.model import Action, ActionKind, Guard, Outcome
from setright.store.applies import creation_order
from setright.store.issues import classify, gather_facts
from setright.store.states import DONE_STATES, MANUAL_MARK, ROLLED_BACK_STATES

_SATISFIED_BY = {"APPLIED": DONE_STATES, "ROLLED_BACK": ROLLED_BACK_STATES}


def resolution_guard(conn: Connection, change_id: str) -> dict[str, Any] | None:
    """The canonical data a mark depends on: the deciding audit row, the latest task and apply."""
    row = conn.execute(
        "SELECT audit_id, state, target_system_id FROM setright_change_state WHERE change_id = ?",
        (change_id,)).fetchone()
    if row is None:
        return None
    task = conn.execute(
        "SELECT t.apply_id, t.position, t.state, a.state FROM setright_tasks t"
        " JOIN setright_applies a ON a.id = t.apply_id WHERE t.change_id = ?"
        f" ORDER BY {creation_order(conn, 'a', descending=True)} LIMIT 1",
        (change_id,)).fetchone()
    return {
        "change_id": change_id, "audit_id": row[0], "state": row[1], "target": row[2],
        "latest_task": None if task is None else {
            "apply_id": task[0], "position": task[1], "state": task[2], "apply_state": task[3]},
    }


def evaluate_resolution(conn: Connection, entry: PlanEntry, *, now_ms: int) -> Action:
    assert entry.resolution in MANUAL_MARK
    data = resolution_guard(conn, entry.subject)
    guard = Guard(fingerprint(data), data or {})
    after = MANUAL_MARK[entry.resolution].value

    def action(outcome: Outcome, *messages: str, before: str | None = None) -> Action:
        return Action(address=entry.address, kind=ActionKind.RESOLVE, outcome=outcome,
                      file=entry.file, entry_key=entry.key, before=before,
                      after=after if outcome == Outcome.CHANGE else before, guard=guard,
                      entry=entry.as_entry_dict(), target=(data or {}).get("target"),
                      messages=list(messages))

    if data is None:
        return action(Outcome.CONFLICT, f"change {entry.subject!r} is not in the audit store")
    state = data["state"]
    verdict = classify(gather_facts(conn, now_ms, change_id=entry.subject, unsettled_only=False)[0])
    if entry.target is not None and entry.target != data["target"]:
        return action(Outcome.CONFLICT, f"target guard: change {entry.subject!r} is on "
                      f"{data['target']!r}, the entry expects {entry.target!r}", before=state)
    if entry.expect and state not in entry.expect:
        return action(Outcome.CONFLICT, f"expect guard: change {entry.subject!r} is {state}, "
                      f"the entry expects {' or '.join(entry.expect)}", before=state)
    if verdict.reason in ("running", "queued"):
        task = data["latest_task"] or {}
        return action(Outcome.CONFLICT, f"change {entry.subject!r} is {verdict.rule.meaning}"
                      + (f" (apply {task['apply_id']} is {task['apply_state']})" if task else ""),
                      before=state)
    if state in _SATISFIED_BY[entry.resolution] and not verdict.is_issue:
        # An issue is never satisfied: a ROLLED_BACK whose retry budget is spent (§9.9)
        # marked ROLLED_BACK is a new decision, and it unblocks the target.
        return action(Outcome.SATISFIED, f"change {entry.subject!r} is already {state}",
                      before=state)
    if verdict.is_issue:
        return action(Outcome.CHANGE, f"{state}: {verdict.rule.meaning}", before=state)
    if entry.expect == (state,):
        return action(Outcome.CHANGE, f"deliberate override: {entry.subject!r} is not an issue "
                      f"({state}: {verdict.rule.meaning}), but expect names its state",
                      before=state)
    return action(Outcome.CONFLICT, f"change {entry.subject!r} is not an issue ({state}: "
                  f"{verdict.rule.meaning}); to mark it anyway, set expect: {state}",
                  before=state)
