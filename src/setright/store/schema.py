"""The store's tables, indexes and self-upgrade path (DESIGN §4).

The audit log keeps Flamingock's exact column layout so a Flamingock runner
and setright can share it; setright's own tables are created through
sqlite-utils. `SCHEMA_VERSION` is written to `setright_meta`; `MIGRATIONS[n]`
upgrades a store from version n to n + 1.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable

SCHEMA_VERSION = 3
#: The oldest schema a read command reads as is (v2 only added an index, v3 a nullable
#: ledger column that readers tolerate); readers never upgrade, so an older store needs a
#: writer first.
READABLE_FROM = 1

AUDIT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "INTEGER PRIMARY KEY"),
    ("execution_id", "TEXT"),
    ("stage_id", "TEXT"),
    ("change_id", "TEXT"),
    ("author", "TEXT"),
    ("created_at", "DATETIME"),
    ("state", "TEXT"),
    ("invoked_class", "TEXT"),
    ("invoked_method", "TEXT"),
    ("source_file", "TEXT"),
    ("metadata", "TEXT"),
    ("execution_millis", "INTEGER"),
    ("execution_hostname", "TEXT"),
    ("error_trace", "TEXT"),
    ("type", "TEXT"),
    ("tx_strategy", "TEXT"),
    ("target_system_id", "TEXT"),
    ("change_order", "TEXT"),
    ("recovery_strategy", "TEXT"),
    ("transaction_flag", "INTEGER"),
    ("system_change", "INTEGER"),
)
AUDIT_COLUMN_NAMES = tuple(name for name, _ in AUDIT_COLUMNS)

NON_TERMINAL_APPLY_STATES = ("pending", "running", "failed_retryable")


def quote(identifier: str) -> str:
    """Quote an identifier (the audit table name comes from configuration)."""
    return '"' + identifier.replace('"', '""') + '"'


def create_audit_table(conn: sqlite3.Connection, table: str) -> None:
    columns = ",\n  ".join(f"{name} {kind}" for name, kind in AUDIT_COLUMNS)
    conn.execute(f"CREATE TABLE IF NOT EXISTS {quote(table)} (\n  {columns}\n)")
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS setright_audit_change_idx ON {quote(table)} (change_id, id)"
    )


def missing_audit_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    present = {row[1] for row in conn.execute(f"PRAGMA table_info({quote(table)})")}
    return [name for name in AUDIT_COLUMN_NAMES if name not in present]


def _v0_to_v1(conn: sqlite3.Connection, audit_table: str) -> None:
    """Create every setright table and index of schema version 1."""
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    create_audit_table(conn, audit_table)
    db["setright_meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
    db["setright_change_state"].create(
        {
            "change_id": str, "audit_id": int, "state": str, "priority": int,
            "created_at": str, "created_ms": int, "target_system_id": str,
            "tx_strategy": str, "recovery_strategy": str, "execution_id": str,
            "error_summary": str,
        },
        pk="change_id", if_not_exists=True,
    )
    db["setright_applies"].create(
        {
            "id": str, "target": str, "state": str, "attempt": int, "max_attempts": int,
            "error": str, "plan_json": str, "plan_fingerprint": str, "caller": str,
            "created_at": str, "started_at": str, "updated_at": str, "completed_at": str,
            "lease_owner": str, "lease_token": str, "lease_expires_at": str,
        },
        pk="id", not_null={"target", "state"}, if_not_exists=True,
    )
    db["setright_tasks"].create(
        {
            "apply_id": str, "position": int, "change_id": str, "checksum": str,
            "transactional": int, "recovery_strategy": str, "state": str, "attempt": int,
            "error": str, "started_at": str, "completed_at": str,
        },
        pk=("apply_id", "position"), not_null={"change_id", "state"}, if_not_exists=True,
    )
    db["setright_operations"].create(
        {
            "apply_id": str, "change_id": str, "seq": int, "statement": str, "hash": str,
            "state": str, "error": str, "completed_at": str,
        },
        pk=("apply_id", "change_id", "seq"), not_null={"state"}, if_not_exists=True,
    )
    db["setright_events"].create(
        {
            "id": int, "at": str, "apply_id": str, "change_id": str, "kind": str,
            "old_state": str, "new_state": str, "actor": str, "source": str, "reason": str,
            "ticket": str, "resolution": str, "plan_id": str, "metadata": str,
        },
        pk="id", if_not_exists=True,
    )
    db["setright_locks"].create(
        {
            "name": str, "lock_id": str, "owner": str, "operation": str,
            "acquired_at": str, "expires_at": str, "info": str,
        },
        pk="name", if_not_exists=True,
    )
    db["setright_ledger"].create(
        {
            "resolution_file": str, "entry_key": str, "file_digest": str, "outcome": str,
            "plan_id": str, "commit_sha": str, "actor": str, "applied_at": str,
        },
        pk=("resolution_file", "entry_key"), if_not_exists=True,
    )
    indexes = {
        "setright_change_state_state_idx": ("setright_change_state", ["state"]),
        "setright_change_state_target_idx": ("setright_change_state", ["target_system_id"]),
        "setright_applies_target_state_idx": ("setright_applies", ["target", "state"]),
        "setright_tasks_change_idx": ("setright_tasks", ["change_id"]),
        "setright_events_apply_idx": ("setright_events", ["apply_id"]),
        "setright_events_change_idx": ("setright_events", ["change_id"]),
        "setright_ledger_digest_idx": ("setright_ledger", ["file_digest"]),
        "setright_locks_lock_id_idx": ("setright_locks", ["lock_id"]),
    }
    for name, (table, columns) in indexes.items():
        db[table].create_index(columns, index_name=name, if_not_exists=True)
    # At most one non-terminal apply per target: the database itself refuses a second.
    states = ", ".join(f"'{s}'" for s in NON_TERMINAL_APPLY_STATES)
    conn.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS setright_applies_one_active_idx "
        f"ON setright_applies (target) WHERE state IN ({states})"
    )
    seed = {
        "lineage": str(uuid.uuid4()),
        "serial": "0",
        "audit_table": audit_table,
        "folded_audit_id": "0",
    }
    conn.executemany(
        "INSERT OR IGNORE INTO setright_meta (key, value) VALUES (?, ?)", seed.items()
    )


def _v1_to_v2(conn: sqlite3.Connection, audit_table: str) -> None:
    """`history` joins the ledger with the events of each plan."""
    conn.execute("CREATE INDEX IF NOT EXISTS setright_events_plan_idx ON setright_events (plan_id)")


def _v2_to_v3(conn: sqlite3.Connection, audit_table: str) -> None:
    """The ledger records the pull request an apply came from; `history` lists the
    imperative writes (`audit fix`, `redrive`) by their events' source."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(setright_ledger)")}
    if "pull_request" not in present:
        conn.execute("ALTER TABLE setright_ledger ADD COLUMN pull_request TEXT")
    conn.execute("CREATE INDEX IF NOT EXISTS setright_events_source_idx"
                 " ON setright_events (source, plan_id)")


MIGRATIONS: dict[int, Callable[[sqlite3.Connection, str], None]] = {
    0: _v0_to_v1, 1: _v1_to_v2, 2: _v2_to_v3}


def upgrade(conn: sqlite3.Connection, audit_table: str) -> None:
    """Bring the schema to `SCHEMA_VERSION`; the caller holds a write transaction."""
    version = current_version(conn)
    while version < SCHEMA_VERSION:
        MIGRATIONS[version](conn, audit_table)
        version += 1
        conn.execute(
            "INSERT INTO setright_meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(version),),
        )


def current_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'setright_meta'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT value FROM setright_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0
