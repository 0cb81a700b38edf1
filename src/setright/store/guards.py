"""What a plan's marks depend on, for every change of the plan at once.

`plan` evaluates up to tens of thousands of entries; reading each change's
guard and facts by itself cost five queries an entry (100,000 round trips to a
server store for a 10,000-entry plan). Here one set-based query per chunk of
change ids reads the same rows: the deciding audit row (`setright_change_state`),
the apply that wrote it, and the change's latest task with its apply. It is the query
`gather_facts` runs (`store.issues.facts_rows`), so the facts are the same by
construction; the live Flamingock lock is read once per chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from setright.db import Connection
from setright.store.issues import FLAMINGOCK_LOCK_TABLE, IssueFacts, facts_rows

#: Change ids per query: well under every dialect's limit on bound parameters.
CHUNK = 500
#: What a guard reads beyond the facts: the deciding audit row, the latest task's place.
_GUARD_COLUMNS = "cs.audit_id, lt.apply_id, lt.position"


class ChangeGuard(NamedTuple):
    """One change as a mark sees it: its guard data (what the fingerprint covers) and the
    facts the issue rules classify (a tuple: a plan reads 10,000)."""

    data: dict[str, Any]
    facts: IssueFacts


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def change_guards(conn: Connection, now_ms: int, change_ids: Sequence[str], *,
                  lock_table: str = FLAMINGOCK_LOCK_TABLE) -> dict[str, ChangeGuard]:
    """The guard of every change of `change_ids` that is in the store, by change id."""
    found: dict[str, ChangeGuard] = {}
    for chunk in _chunks(sorted(set(change_ids))):
        for facts, (audit_id, task_apply, position) in facts_rows(
                conn, now_ms, change_ids=chunk, unsettled_only=False, lock_table=lock_table,
                extra_columns=_GUARD_COLUMNS):
            found[facts.change_id] = ChangeGuard(_data(facts, audit_id, task_apply, position),
                                                 facts)
    return found


def _data(facts: IssueFacts, audit_id: int, task_apply: str | None,
          position: int | None) -> dict[str, Any]:
    return {
        "change_id": facts.change_id, "audit_id": audit_id, "state": facts.state,
        "target": facts.target,
        "latest_task": None if task_apply is None else {
            "apply_id": task_apply, "position": position, "state": facts.latest_task_state,
            "apply_state": facts.latest_task_apply_state},
    }
