"""Failure-time schema snapshots: the target's schema as a failed apply left it.

When an apply fails (the runner, or the reaper settling a lost runner), the
target's tables, columns, indexes, constraints, views and triggers are recorded
here, keyed by the apply. A redrive compares them with the live target: what
the failed work left behind must still be there when the work resumes. A
redriven apply that fails again replaces its row. Stores older than this table
(or applies that failed before it existed) have no row: `failure_snapshot`
returns None and the caller warns instead of comparing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from setright.db import Connection
from setright.db.impl import impl_of
from setright.fingerprint import fingerprint
from setright.jsontext import canonical_json
from setright.store.schema import SNAPSHOT_TABLE

_COLUMNS = ("apply_id", "taken_at", "fingerprint", "snapshot")


@dataclass(frozen=True)
class SchemaSnapshot:
    """One recorded snapshot: when it was taken, its `dh1:` fingerprint, the data."""

    apply_id: str
    taken_at: str
    fingerprint: str
    schema: dict[str, Any]


def canonical_text(schema: dict[str, Any]) -> str:
    return canonical_json(schema, ascii=True)


def schema_fingerprint(schema: dict[str, Any]) -> str:
    """`dh1:` over the snapshot's canonical JSON text: one string to hash, however large the
    schema, and equal for a failure-time and a live snapshot of the same schema."""
    return fingerprint(canonical_text(schema))


def record_snapshot(tx: Connection, apply_id: str, schema: dict[str, Any], *, at: str) -> None:
    """Store (or replace) the failure-time snapshot of `apply_id`, in the caller's transaction."""
    text = canonical_text(schema)
    sql = impl_of(tx).upsert_sql(SNAPSHOT_TABLE, _COLUMNS, ("apply_id",))
    tx.execute(sql, (apply_id, at, fingerprint(text), text))


def failure_snapshot(conn: Connection, apply_id: str) -> SchemaSnapshot | None:
    """The recorded snapshot of `apply_id`, or None (none taken, or an older store)."""
    row = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM {SNAPSHOT_TABLE} WHERE apply_id = ?",
                       (apply_id,)).fetchone()
    if row is None:
        return None
    try:
        schema = json.loads(row[3])
    except (TypeError, ValueError):
        return None   # unreadable: treated as missing, which warns rather than guesses
    if not isinstance(schema, dict):
        return None
    return SchemaSnapshot(row[0], row[1], row[2], schema)
