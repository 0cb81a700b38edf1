"""The ledger joined with the events each applied entry caused (`setright history`)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any


def ledger_history(conn: sqlite3.Connection, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Ledger rows newest first, each with the events its plan wrote for that entry."""
    sql = ("SELECT resolution_file, entry_key, file_digest, outcome, plan_id, commit_sha, actor,"
           " applied_at FROM setright_ledger ORDER BY applied_at DESC, rowid DESC")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    cursor = conn.execute(sql)
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    events: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for plan_id in sorted({r["plan_id"] for r in rows if r["plan_id"]}):
        for at, apply_id, change_id, kind, old, new, resolution, metadata in conn.execute(
                "SELECT at, apply_id, change_id, kind, old_state, new_state, resolution, metadata"
                " FROM setright_events WHERE plan_id = ? ORDER BY id", (plan_id,)):
            events.setdefault((plan_id, resolution or ""), []).append({
                "at": at, "kind": kind, "apply_id": apply_id, "change_id": change_id,
                "old_state": old, "new_state": new,
                "metadata": json.loads(metadata) if metadata else None})
    for row in rows:
        key = (row["plan_id"] or "", f"{row['resolution_file']}#{row['entry_key']}")
        row["events"] = events.get(key, [])
    return rows
