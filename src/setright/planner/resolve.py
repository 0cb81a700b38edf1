"""Outcome of a resolution entry: mark a change APPLIED or ROLLED_BACK.

| outcome   | when |
|-----------|------|
| change    | the change is an issue and the guards hold; or it is not an issue but `expect` names its current state exactly (a deliberate override) |
| satisfied | the current state already equals the resolution, and it is not an issue |
| conflict  | unknown change; `expect`/`target` mismatch; running or queued; not an issue without an explicit `expect` |

Cross-entry conflicts (two entries for one change) are decided in `build.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from setright.db import Connection
from setright.fingerprint import compact_fingerprints
from setright.planner.entries import PlanEntry
from setright.planner.model import Action, ActionKind, Guard, Outcome
from setright.store.guards import change_guards
from setright.store.issues import FLAMINGOCK_LOCK_TABLE, IssueFacts, classify
from setright.store.states import DONE_STATES, MANUAL_MARK, ROLLED_BACK_STATES

_SATISFIED_BY = {"APPLIED": DONE_STATES, "ROLLED_BACK": ROLLED_BACK_STATES}


def resolution_guards(conn: Connection, change_ids: Sequence[str], *, now_ms: int,
                      lock_table: str = FLAMINGOCK_LOCK_TABLE
                      ) -> list[tuple[Guard, IssueFacts | None]]:
    """Every change's guard, fingerprinted in one batch, with the facts its verdict needs
    (None: not in the store). The store is read set-based (`store.guards`), not per change."""
    found = change_guards(conn, now_ms, change_ids, lock_table=lock_table)
    read = [found.get(change_id) for change_id in change_ids]
    datas = [None if r is None else r.data for r in read]
    return [(Guard(fp, data or {}), None if r is None else r.facts)
            for fp, data, r in zip(compact_fingerprints(datas), datas, read, strict=True)]


def evaluate_resolution(conn: Connection, entry: PlanEntry, *, now_ms: int,
                        guarded: tuple[Guard, IssueFacts | None] | None = None,
                        lock_table: str = FLAMINGOCK_LOCK_TABLE) -> Action:
    """One entry's outcome; `guarded` is its item of `resolution_guards` (a plan reads and
    fingerprints every entry's guard in one batch), else it is read here."""
    assert entry.resolution in MANUAL_MARK
    after = _AFTER[entry.resolution]
    if guarded is None:
        [guarded] = resolution_guards(conn, [entry.subject], now_ms=now_ms,
                                      lock_table=lock_table)
    guard, facts = guarded
    data = guard.data or None          # {} stands for "not in the store"
    outcome, message, before = _outcome(entry, data, facts)
    return Action(address=entry.address, kind=ActionKind.RESOLVE, outcome=outcome,
                  file=entry.file, entry_key=entry.key, before=before,
                  after=after if outcome is Outcome.CHANGE else before, guard=guard,
                  entry=entry.as_entry_dict(),
                  target=None if data is None else data.get("target"), messages=[message])


#: the state each resolution marks a change with (`MANUAL_MARK`, as text)
_AFTER = {resolution: state.value for resolution, state in MANUAL_MARK.items()}


def _outcome(entry: PlanEntry, data: dict[str, Any] | None, facts: IssueFacts | None
             ) -> tuple[Outcome, str, str | None]:
    """The outcome of marking the change `data` shows, why, and the change's state."""
    if data is None:
        return Outcome.CONFLICT, f"change {entry.subject!r} is not in the audit store", None
    assert facts is not None
    state = data["state"]
    verdict = classify(facts)
    if entry.target is not None and entry.target != data["target"]:
        return (Outcome.CONFLICT, f"target guard: change {entry.subject!r} is on "
                f"{data['target']!r}, the entry expects {entry.target!r}", state)
    if entry.expect and state not in entry.expect:
        return (Outcome.CONFLICT, f"expect guard: change {entry.subject!r} is {state}, "
                f"the entry expects {' or '.join(entry.expect)}", state)
    reason = verdict.reason
    if reason == "running":
        facts = verdict.facts
        holder = (f"lock held by {facts.lock_owner} until {facts.lock_until}"
                  if facts.lock_owner else "its runner holds a live lock")
        return (Outcome.CONFLICT, f"change {entry.subject!r} is running: {holder}; "
                "it cannot be marked while the lock is live", state)
    if reason == "queued":
        task = data["latest_task"] or {}
        return (Outcome.CONFLICT, f"change {entry.subject!r} is {verdict.rule.meaning}"
                + (f" (apply {task['apply_id']} is {task['apply_state']})" if task else ""),
                state)
    is_issue = verdict.is_issue
    if state in _SATISFIED_BY[entry.resolution] and not is_issue:
        # An issue is never satisfied: a ROLLED_BACK whose retry budget is spent
        # marked ROLLED_BACK is a new decision, and it unblocks the target.
        return Outcome.SATISFIED, f"change {entry.subject!r} is already {state}", state
    if is_issue:
        return Outcome.CHANGE, f"{state}: {verdict.rule.meaning}", state
    if entry.expect == (state,):
        return (Outcome.CHANGE, f"deliberate override: {entry.subject!r} is not an issue "
                f"({state}: {verdict.rule.meaning}), but expect names its state", state)
    return (Outcome.CONFLICT, f"change {entry.subject!r} is not an issue ({state}: "
            f"{verdict.rule.meaning}); to mark it anyway, set expect: {state}", state)
