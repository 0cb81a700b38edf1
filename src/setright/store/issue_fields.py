"""What the issue list and the full diagnosis both say of an issue, computed alike.

Kept apart from store/diagnosis.py, which `issue list` imports only to diagnose a
running change: the list shows these for 10,000 issues. The runner writes the error
prefixes the diagnosis reads, from here too: a run never imports the diagnosis.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from setright.store.states import ChangeState

#: (target, apply_id, change_id) → the operation seqs whose marker is in the target, or
#: None when the target cannot say (unknown target, unreadable file).
MarkerReader = Callable[[str, str, str], Collection[int] | None]

#: How a runner's error trace starts the line naming what a failed statement that ran
#: outside a transaction left in the target (an invalid index): partial state, certain.
LEFT_BEHIND = "left behind in the target: "
#: How an operation's error starts when the reaper could not tell from the target's
#: catalog whether it took effect (it ran outside a transaction, or was DDL on MySQL).
UNSETTLED = "unknown whether it took effect: "


def settled_by_markers(ops: list[tuple[int, str, str]],
                        marks: Collection[int] | None) -> list[tuple[int, str, str]]:
    """An in-flight task's operations as its target markers settle them.

    A marker exists exactly when its operation committed (a rollback script
    removes its task's markers in its own transaction), so for a task nobody
    has settled yet the markers, not the store rows, say what committed.
    """
    if marks is None:
        return ops
    return [(seq, "completed" if seq in marks else ("pending" if state == "completed" else state),
             stmt) for seq, state, stmt in ops]


_ALWAYS_PARTIAL = frozenset({ChangeState.STARTED.value, ChangeState.ROLLBACK_FAILED.value})
_FAILED = ChangeState.FAILED.value   # plain strings: a member's lookup costs (10,000 rows)


def partial_state_possible(state: str, transactional: bool | None, completed: int | None) -> bool:
    """Non-transactional with a committed operation, STARTED, ROLLBACK_FAILED, or unknown."""
    if state in _ALWAYS_PARTIAL:
        return True
    if state == _FAILED:
        if transactional:
            return False
        return completed is None or completed > 0
    return False


#: The reasons whose Error column `error_column` takes from the apply (others: as stored).
APPLY_SUMMARIES = frozenset({"started-never-completed", "retry-budget-exhausted"})


def error_column(reason: str, stored: str | None, apply: dict[str, Any]) -> str | None:
    """The Error column: why the runner was lost, or the spent budget, or the stored error."""
    if reason == "started-never-completed":
        if apply.get("error"):
            return str(apply["error"]).splitlines()[0]
        return "started, never completed (no live lease or lock)"
    if reason == "retry-budget-exhausted":
        return (f"retry budget exhausted ({apply.get('attempt')} of {apply.get('max_attempts')}): "
                f"{stored or apply.get('error') or 'no error recorded'}")
    return stored
