"""What a plan's marks depend on, for every change of the plan at once.

`plan` evaluates up to tens of thousands of entries; reading each change's
guard and facts by itself cost five queries an entry (100,000 round trips to a
server store for a 10,000-entry plan). Here one set-based query per chunk of
change ids reads the same rows: the deciding audit row (`setright_change_state`),
the apply that wrote it, and the change's latest task with its apply, the
latest chosen exactly as `store.issues.gather_facts` chooses it. The live
Flamingock lock is read once. The values are those of `gather_facts(change_id=…,
unsettled_only=False)` and of a one-change guard read in the same snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from setright.db import Connection
from setright.store.applies import creation_order
from setright.store.issues import FLAMINGOCK_LOCK_TABLE, IssueFacts, flamingock_lock_holder
from setright.store.schema import NON_TERMINAL_APPLY_STATES
from setright.timeutil import iso_from_ms

#: Change ids per query: well under every dialect's limit on bound parameters.
CHUNK = 500

_SQL = """
SELECT cs.change_id, cs.state, cs.target_system_id, cs.tx_strategy, cs.recovery_strategy,
       cs.execution_id, ap.state, ap.lease_expires_at, lt.state, la.state,
       ap.attempt, ap.max_attempts, ap.lease_owner, cs.audit_id, lt.apply_id, lt.position
FROM setright_change_state cs
LEFT JOIN setright_applies ap ON ap.id = cs.execution_id
LEFT JOIN setright_tasks lt ON lt.change_id = cs.change_id AND lt.apply_id = (
    SELECT t.apply_id FROM setright_tasks t JOIN setright_applies a ON a.id = t.apply_id
    WHERE t.change_id = cs.change_id ORDER BY {newest} LIMIT 1)
LEFT JOIN setright_applies la ON la.id = lt.apply_id
WHERE cs.change_id IN ({marks})
"""


@dataclass(frozen=True)
class ChangeGuard:
    """One change as a mark sees it: its guard data (what the fingerprint covers) and the
    facts the issue rules classify."""

    data: dict[str, Any]
    facts: IssueFacts


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def change_guards(conn: Connection, now_ms: int, change_ids: Sequence[str], *,
                  lock_table: str = FLAMINGOCK_LOCK_TABLE) -> dict[str, ChangeGuard]:
    """The guard of every change of `change_ids` that is in the store, by change id."""
    wanted = sorted(set(change_ids))
    if not wanted:
        return {}
    now_iso = iso_from_ms(now_ms)
    flamingock = flamingock_lock_holder(conn, now_ms, lock_table)
    newest = creation_order(conn, "a", descending=True)
    found: dict[str, ChangeGuard] = {}
    for chunk in _chunks(wanted):
        sql = _SQL.format(newest=newest, marks=", ".join("?" * len(chunk)))
        for row in conn.execute(sql, list(chunk)):
            found[row[0]] = _guard(row, now_iso, flamingock)
    return found


def _guard(row: Sequence[Any], now_iso: str, flamingock: tuple[str, str] | None) -> ChangeGuard:
    # a terminal apply holds nothing, whatever its lease time says
    lease_live = bool(row[7]) and row[7] > now_iso and row[6] in NON_TERMINAL_APPLY_STATES
    owner, until = ((row[12], row[7]) if lease_live
                    else flamingock if flamingock is not None else (None, None))
    facts = IssueFacts(
        change_id=row[0], state=row[1], target=row[2], tx_strategy=row[3],
        recovery_strategy=row[4], execution_id=row[5], apply_state=row[6],
        lease_live=lease_live, latest_task_state=row[8], latest_task_apply_state=row[9],
        flamingock_lock_live=flamingock is not None, apply_attempt=row[10],
        apply_max_attempts=row[11], lock_owner=owner, lock_until=until)
    data = {
        "change_id": row[0], "audit_id": row[13], "state": row[1], "target": row[2],
        "latest_task": None if row[14] is None else {
            "apply_id": row[14], "position": row[15], "state": row[8], "apply_state": row[9]},
    }
    return ChangeGuard(data, facts)
