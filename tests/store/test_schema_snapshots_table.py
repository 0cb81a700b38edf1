"""Schema version 4: failure-time schema snapshots get their own table; a version 3 store
upgrades in place, and a reader of a version 3 store (which never upgrades) sees none."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from setright.store import Store
from setright.store.schema import MIGRATIONS, SCHEMA_VERSION, SNAPSHOT_TABLE
from setright.store.snapshots import failure_snapshot, record_snapshot

SCHEMA = {"tables": {"t": {"columns": {}, "indexes": {}, "foreign_keys": [],
                           "has_check": False}}, "views": {}, "triggers": {}}


def version_3_store(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for version in (0, 1, 2):
        MIGRATIONS[version](conn, "setright_audit_log")
    conn.execute("INSERT INTO setright_meta (key, value) VALUES ('schema_version', '3')")
    conn.close()


def tables(path: Path) -> set[str]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def test_version_3_upgrades_to_4_with_the_snapshot_table(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    version_3_store(path)
    assert SNAPSHOT_TABLE not in tables(path) and SCHEMA_VERSION >= 4
    store = Store.open(path)
    assert store.meta("schema_version") == str(SCHEMA_VERSION)
    with store.write() as tx:
        record_snapshot(tx, "ap-1", SCHEMA, at="2026-11-22T12:00:00.000Z")
    with store.write() as tx:   # a redriven apply that fails again replaces its row
        record_snapshot(tx, "ap-1", {**SCHEMA, "views": {"v": "x"}},
                        at="2026-11-22T13:00:00.000Z")
    found = failure_snapshot(store.conn, "ap-1")
    assert found is not None
    assert (found.taken_at, found.schema["views"]) == ("2026-11-22T13:00:00.000Z", {"v": "x"})
    assert store.conn.execute(f"SELECT count(*) FROM {SNAPSHOT_TABLE}").fetchone()[0] == 1
    store.close()


def test_a_reader_of_a_version_3_store_sees_no_snapshot_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    version_3_store(path)
    before = path.read_bytes()
    reader = Store.open_reader(path)
    with reader.read():
        assert failure_snapshot(reader.conn, "ap-1") is None
    reader.close()
    assert path.read_bytes() == before and SNAPSHOT_TABLE not in tables(path)


def test_a_new_store_is_created_with_the_snapshot_table(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "audit.db")
    assert store.meta("schema_version") == str(SCHEMA_VERSION)
    assert SNAPSHOT_TABLE in tables(tmp_path / "audit.db")
    store.close()
