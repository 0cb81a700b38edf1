"""The store's tables, indexes and self-upgrade path.

The audit log keeps Flamingock's exact column layout so a Flamingock runner
and setright can share it; its types per dialect, and how setright's own tables
are created (sqlite-utils on SQLite), are the connection's `impl`'s business
(`setright.db`): this module says which tables, columns and indexes there are.
`SCHEMA_VERSION` is written to `setright_meta`; `MIGRATIONS[n]` upgrades a
store from version n to n + 1.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from setright.db import Connection
from setright.db.impl import DefaultImpl, impl_of

SCHEMA_VERSION = 5
#: The oldest schema a read command reads as is (v2 only added an index, v3 a nullable
#: ledger column that readers tolerate, v4 a table that a reader of an older store sees as
#: an empty stand-in, v5 made two indexes partial); readers never upgrade, so an older store
#: needs a writer first.
READABLE_FROM = 1

#: Flamingock's audit log columns, in its order.
AUDIT_COLUMN_NAMES = (
    "id", "execution_id", "stage_id", "change_id", "author", "created_at", "state",
    "invoked_class", "invoked_method", "source_file", "metadata", "execution_millis",
    "execution_hostname", "error_trace", "type", "tx_strategy", "target_system_id",
    "change_order", "recovery_strategy", "transaction_flag", "system_change",
)

NON_TERMINAL_APPLY_STATES = ("pending", "running", "failed_retryable")


#: Quote an identifier the SQLite way. Store SQL quotes through `impl_of(conn).quote`
#: (PostgreSQL uses names unquoted, as Flamingock does); this stays for SQLite-only callers.
quote = DefaultImpl.quote


def create_audit_table(conn: Connection, table: str) -> None:
    impl = impl_of(conn)
    conn.execute(impl.audit_table_ddl(table, conn))
    impl.create_index(conn, "setright_audit_change_idx", table, ["change_id", "id"])


def missing_audit_columns(conn: Connection, table: str) -> list[str]:
    present = set(impl_of(conn).column_names(conn, table))
    return [name for name in AUDIT_COLUMN_NAMES if name not in present]


#: The target's schema as a failed apply left it, one row per apply (replaced when a
#: redriven apply fails again): kept out of `setright_applies`, whose rows every fenced
#: runner write reads, because a snapshot of a large schema is large.
SNAPSHOT_TABLE = "setright_schema_snapshots"

#: setright's own tables: columns, primary key, NOT NULL columns.
TABLES: dict[str, tuple[dict[str, type], tuple[str, ...], tuple[str, ...]]] = {
    "setright_meta": ({"key": str, "value": str}, ("key",), ()),
    "setright_change_state": (
        {
            "change_id": str, "audit_id": int, "state": str, "priority": int,
            "created_at": str, "created_ms": int, "target_system_id": str,
            "tx_strategy": str, "recovery_strategy": str, "execution_id": str,
            "error_summary": str,
        }, ("change_id",), ()),
    "setright_applies": (
        {
            "id": str, "target": str, "state": str, "attempt": int, "max_attempts": int,
            "error": str, "plan_json": str, "plan_fingerprint": str, "caller": str,
            "created_at": str, "started_at": str, "updated_at": str, "completed_at": str,
            "lease_owner": str, "lease_token": str, "lease_expires_at": str,
        }, ("id",), ("target", "state")),
    "setright_tasks": (
        {
            "apply_id": str, "position": int, "change_id": str, "checksum": str,
            "transactional": int, "recovery_strategy": str, "state": str, "attempt": int,
            "error": str, "started_at": str, "completed_at": str,
        }, ("apply_id", "position"), ("change_id", "state")),
    "setright_operations": (
        {
            "apply_id": str, "change_id": str, "seq": int, "statement": str, "hash": str,
            "state": str, "error": str, "completed_at": str,
        }, ("apply_id", "change_id", "seq"), ("state",)),
    "setright_events": (
        {
            "id": int, "at": str, "apply_id": str, "change_id": str, "kind": str,
            "old_state": str, "new_state": str, "actor": str, "source": str, "reason": str,
            "ticket": str, "resolution": str, "plan_id": str, "metadata": str,
        }, ("id",), ()),
    "setright_locks": (
        {
            "name": str, "lock_id": str, "owner": str, "operation": str,
            "acquired_at": str, "expires_at": str, "info": str,
        }, ("name",), ()),
    "setright_ledger": (
        {
            "resolution_file": str, "entry_key": str, "file_digest": str, "outcome": str,
            "plan_id": str, "commit_sha": str, "actor": str, "applied_at": str,
        }, ("resolution_file", "entry_key"), ()),
    SNAPSHOT_TABLE: (
        {"apply_id": str, "taken_at": str, "fingerprint": str, "snapshot": str},
        ("apply_id",), ("taken_at", "snapshot")),
}
#: the schema version that added a table (the others are version 1's)
ADDED_IN = {SNAPSHOT_TABLE: 4}
#: tables whose `id` the database numbers
AUTOINCREMENT = {"setright_events": "id"}


def _v0_to_v1(conn: Connection, audit_table: str) -> None:
    """Create every setright table and index of schema version 1."""
    impl = impl_of(conn)
    create_audit_table(conn, audit_table)
    for name, (columns, pk, not_null) in TABLES.items():
        if ADDED_IN.get(name, 1) != 1:
            continue
        impl.create_table(conn, name, columns, pk, not_null, AUTOINCREMENT.get(name))
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
        impl.create_index(conn, name, table, columns)
    # At most one non-terminal apply per target: the database itself refuses a second.
    impl.create_one_active_index(conn, "setright_applies_one_active_idx", "setright_applies",
                                 "target", "state", NON_TERMINAL_APPLY_STATES)
    seed = {
        "lineage": str(uuid.uuid4()),
        "serial": "0",
        "audit_table": audit_table,
        "folded_audit_id": "0",
    }
    conn.executemany(impl.insert_ignore_sql("setright_meta", ("key", "value"), ("key",)),
                     list(seed.items()))


def _v1_to_v2(conn: Connection, audit_table: str) -> None:
    """`history` joins the ledger with the events of each plan."""
    impl_of(conn).create_index(conn, "setright_events_plan_idx", "setright_events", ["plan_id"])


def _v2_to_v3(conn: Connection, audit_table: str) -> None:
    """The ledger records the pull request an apply came from; `history` lists the
    imperative writes (`audit fix`, `redrive`) by their events' source."""
    impl = impl_of(conn)
    if "pull_request" not in impl.column_names(conn, "setright_ledger"):
        conn.execute("ALTER TABLE setright_ledger ADD COLUMN pull_request TEXT")
    impl.create_index(conn, "setright_events_source_idx", "setright_events",
                      ["source", "plan_id"])


def _v3_to_v4(conn: Connection, audit_table: str) -> None:
    """A failed apply records its target's schema, so a redrive can see what moved since."""
    columns, pk, not_null = TABLES[SNAPSHOT_TABLE]
    impl_of(conn).create_table(conn, SNAPSHOT_TABLE, columns, pk, not_null)


#: The events indexes only a plan's events need: (name, columns, the rows they index).
#: The runner writes three events per change, none with a plan id; as partial indexes these
#: cost its commits nothing, and every query of them says `plan_id` is not NULL (`plan_id IN
#: (…)`, `plan_id IS NOT NULL`), so the database still answers it from the index.
PLAN_EVENT_INDEXES = (
    ("setright_events_plan_idx", ("plan_id",), "plan_id IS NOT NULL"),
    ("setright_events_source_idx", ("source", "plan_id"), "plan_id IS NOT NULL"),
)


def _v4_to_v5(conn: Connection, audit_table: str) -> None:
    """The two plan indexes of the events leave out the rows without a plan (the runner's):
    dropped and made again, partial, in the upgrade's one transaction (SQLite and PostgreSQL
    DDL is transactional). MySQL/MariaDB has no partial index: its plain ones stay."""
    impl = impl_of(conn)
    if not impl.partial_indexes:
        return
    for name, columns, where in PLAN_EVENT_INDEXES:
        impl.drop_index(conn, name, "setright_events")
        impl.create_partial_index(conn, name, "setright_events", columns, where)


MIGRATIONS: dict[int, Callable[[Connection, str], None]] = {
    0: _v0_to_v1, 1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4, 4: _v4_to_v5}


def build_all(conn: Connection, audit_table: str) -> None:
    """Every migration in order, as on an empty store (a model of a new store's tables)."""
    for version in range(SCHEMA_VERSION):
        MIGRATIONS[version](conn, audit_table)


def upgrade(conn: Connection, audit_table: str) -> None:
    """Bring the schema to `SCHEMA_VERSION`; the caller holds a write transaction."""
    upsert = impl_of(conn).upsert_sql("setright_meta", ("key", "value"), ("key",))
    version = current_version(conn)
    while version < SCHEMA_VERSION:
        MIGRATIONS[version](conn, audit_table)
        version += 1
        conn.execute(upsert, ("schema_version", str(version)))


def current_version(conn: Connection) -> int:
    if not impl_of(conn).table_exists(conn, "setright_meta"):
        return 0
    value = meta_value(conn, "schema_version")
    return int(value) if value else 0


def meta_value(conn: Connection, key: str) -> str | None:
    """One `setright_meta` value (`key` is a reserved word on MySQL: quoted by the impl)."""
    row = conn.execute(f"SELECT value FROM setright_meta WHERE {impl_of(conn).quote('key')} = ?",
                       (key,)).fetchone()
    return None if row is None else row[0]


def set_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(f"UPDATE setright_meta SET value = ? WHERE {impl_of(conn).quote('key')} = ?",
                 (value, key))


def creation_order(conn: Connection, alias: str, *, descending: bool = False) -> str:
    """ORDER BY terms for applies (table or alias `alias`) in creation order: `created_at`,
    then the order rows were inserted where the database keeps one (SQLite), else the id
    (time-ordered: the id starts with its creation time)."""
    way = " DESC" if descending else ""
    tiebreak = impl_of(conn).row_order_sql(alias, "id")
    return f"{alias}.created_at{way}, {tiebreak}{way}"
