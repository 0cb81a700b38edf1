"""What `setright audit` lists: the current state of each change and the raw audit rows.

Read-only queries over the change-state cache and the audit log, for the
`audit` command's views; nothing here writes.
"""

from __future__ import annotations

from typing import Any

from setright.db import Connection
from setright.db.impl import impl_of
from setright.store.states import priority_of
from setright.timeutil import iso_from_ms


def list_current(conn: Connection, audit_table: str, *, change_id: str | None = None,
                 since_ms: int | None = None) -> list[dict[str, Any]]:
    """Current state per change (oldest first), with the author of the deciding row."""
    where, params = ["1 = 1"], []
    if change_id is not None:
        where.append("cs.change_id = ?")
        params.append(change_id)
    if since_ms is not None:
        where.append("cs.created_ms >= ?")
        params.append(since_ms)
    cursor = conn.execute(
        f"SELECT cs.change_id, cs.state, a.author, cs.target_system_id, cs.created_at,"
        f" cs.execution_id, cs.tx_strategy, cs.recovery_strategy, cs.error_summary, cs.audit_id"
        f" FROM setright_change_state cs LEFT JOIN {impl_of(conn).quote(audit_table)} a"
        f" ON a.id = cs.audit_id"
        f" WHERE {' AND '.join(where)} ORDER BY cs.created_ms, cs.change_id",
        params,
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def list_history(conn: Connection, audit_table: str, *, change_id: str | None = None,
                 since_ms: int | None = None) -> list[dict[str, Any]]:
    """Raw audit rows in id order (the whole log when unfiltered: not a hot path)."""
    impl = impl_of(conn)
    where, params = ["1 = 1"], []
    if change_id is not None:   # exactly: `Foo`'s rows are not `foo`'s
        test, bound = impl.exact_equals_sql("change_id")
        where.append(test)
        params += [change_id] * bound
    created_ms = impl.audit_ms_sql(conn, audit_table, "created_at")
    if since_ms is not None:
        where.append(f"{created_ms} >= ?")
        params.append(since_ms)
    cursor = conn.execute(
        f"SELECT id, change_id, state, author, target_system_id, {created_ms} AS created_at,"
        f" execution_id, tx_strategy, recovery_strategy, error_trace, metadata"
        f" FROM {impl.quote(audit_table)} WHERE {' AND '.join(where)} ORDER BY id",
        params,
    )
    names = [d[0] for d in cursor.description]
    rows = []
    for row in cursor:
        item = dict(zip(names, row, strict=True))
        ms = item["created_at"]
        item["created_at"] = iso_from_ms(int(ms)) if ms is not None else None
        item["priority"] = priority_of(item["state"])
        rows.append(item)
    return rows
