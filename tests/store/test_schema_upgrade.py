"""Schema version 3: the ledger gains `pull_request` (added, nothing renamed); older stores
upgrade in place and keep their rows, and readers that do not upgrade still read them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from setright.store import Store
from setright.store.history import ledger_history
from setright.store.ledger import LedgerRow, read_ledger_at, record_ledger_entry
from setright.store.schema import MIGRATIONS, SCHEMA_VERSION

ROW = ("resolutions/a.yaml", "resolution:x", "sha256:aa", "change", "pl-1", "c0ffee",
       "ops@example.com", "2026-11-22T12:00:00.000Z")


def version_2_store(path: Path) -> None:
    """A store exactly as schema version 2 left it, with one applied entry."""
    conn = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS[0](conn, "setright_audit_log")
    MIGRATIONS[1](conn, "setright_audit_log")
    conn.execute("INSERT INTO setright_meta (key, value) VALUES ('schema_version', '2')")
    conn.execute("INSERT INTO setright_ledger (resolution_file, entry_key, file_digest, outcome,"
                 " plan_id, commit_sha, actor, applied_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ROW)
    conn.close()


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def test_version_2_upgrades_to_3_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    version_2_store(path)
    before = columns(sqlite3.connect(path), "setright_ledger")
    assert "pull_request" not in before and SCHEMA_VERSION >= 3
    store = Store.open(path)
    assert store.meta("schema_version") == str(SCHEMA_VERSION)
    assert columns(store.conn, "setright_ledger") == [*before, "pull_request"]  # added, last
    assert store.conn.execute("SELECT * FROM setright_ledger").fetchall() == [(*ROW, None)]
    assert store.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index'"
                              " AND name = 'setright_events_source_idx'").fetchone()
    with store.write() as tx:
        record_ledger_entry(tx, LedgerRow("resolutions/b.yaml", "resolution:y", "sha256:bb",
                                          "change", "pl-2", None, "ops@example.com",
                                          "2026-11-22T13:00:00.000Z", "#7"))
    page = ledger_history(store.conn)
    assert [(r["entry_key"], r["pull_request"]) for r in page.rows] == [
        ("resolution:y", "#7"), ("resolution:x", None)]
    store.close()
    assert Store.open(path).meta("schema_version") == str(SCHEMA_VERSION)  # changes nothing


def test_a_version_3_store_is_created_with_the_column(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "audit.db")
    assert columns(store.conn, "setright_ledger")[-1] == "pull_request"
    store.close()


def test_readers_that_do_not_upgrade_read_a_version_2_ledger(tmp_path: Path) -> None:
    """`validate` reads the ledger read-only; it must not need the new column."""
    path = tmp_path / "audit.db"
    version_2_store(path)
    index = read_ledger_at(path)
    assert index.entry("resolutions/a.yaml", "resolution:x") == LedgerRow(*ROW)
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    [row] = ledger_history(conn).rows
    assert (row["entry_key"], row["pull_request"]) == ("resolution:x", None)
    conn.close()
