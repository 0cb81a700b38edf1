"""The ledger's in-memory index, read-only reading, and recording."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from setright.errors import StoreError, TransitionRefused
from setright.store import Store
from setright.store.ledger import (
    LedgerIndex,
    LedgerRow,
    read_ledger,
    read_ledger_at,
    record_ledger_entry,
)

ROWS = [
    LedgerRow("resolutions/a.yaml", "resolution:x", "sha256:aa", "change", "pl-1", "c0ffee",
              "jane@example.com", "2026-11-20T10:00:00.000Z"),
    LedgerRow("resolutions/a.yaml", "redrive:ap-1", "sha256:aa", "satisfied", "pl-1", "c0ffee",
              "jane@example.com", "2026-11-20T10:00:00.000Z"),
    LedgerRow("resolutions/b.yaml", "resolution:it's \"ü\"", "sha256:bb", "change", "pl-2",
              None, "ci", "2026-11-21T10:00:00.000Z"),
]


@pytest.fixture
def filled(store: Store) -> Store:
    with store.write() as tx:
        for row in ROWS:
            record_ledger_entry(tx, row)
    return store


def test_the_digest_lookup_uses_its_index(filled: Store) -> None:
    plan = filled.conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM setright_ledger WHERE file_digest = ?", ("x",)
    ).fetchall()
    assert "setright_ledger_digest_idx" in " ".join(str(r) for r in plan)


def test_index(filled: Store) -> None:
    index = read_ledger(filled.conn)
    assert len(index) == 3
    assert index.files() == ["resolutions/a.yaml", "resolutions/b.yaml"]
    assert set(index.rows_for_file("resolutions/a.yaml")) == {"resolution:x", "redrive:ap-1"}
    assert index.rows_for_file("nope") == {}
    assert index.files_with_digest("sha256:bb") == ["resolutions/b.yaml"]
    assert index.files_with_digest("sha256:cc") == []
    assert index.entry("resolutions/a.yaml", "redrive:ap-1") == ROWS[1]
    assert LedgerIndex([]).files() == []


def test_recording_an_entry_twice_is_refused(filled: Store) -> None:
    with pytest.raises(TransitionRefused, match="already records entry 'resolution:x'"):
        with filled.write() as tx:
            record_ledger_entry(tx, ROWS[0])
    assert len(read_ledger(filled.conn)) == 3


def test_read_ledger_at_reads_without_writing(filled: Store, tmp_path: Path) -> None:
    path = filled.path
    serial = filled.serial
    filled.close()
    index = read_ledger_at(path)
    assert len(index) == 3
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM setright_meta WHERE key = 'serial'").fetchone()[0] \
        == str(serial)
    conn.close()


def test_read_ledger_at_refuses_what_is_not_a_store(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(StoreError, match="is not a setright store"):
        read_ledger_at(other)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot read the ledger"):
        read_ledger_at(garbage)
