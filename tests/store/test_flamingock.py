"""A store on top of a Flamingock SQLite audit table (flamingockAuditLog + flamingockLock)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from setright.store import Store
from setright.store.audit import current_state, mark_change
from setright.store.issues import find_issues, verdict_for
from setright.store.transitions import Provenance
from setright.timeutil import FixedClock
from storehelp import T0
from storehelp import make_flamingock_db


@pytest.fixture
def flamingock_db(tmp_path: Path) -> Path:
    return make_flamingock_db(tmp_path / "flamingock.db")



def open_store(path: Path, clock: FixedClock) -> Store:
    return Store.open(path, audit_table="flamingockAuditLog", clock=clock)


def test_setright_adds_only_its_tables_and_one_index(flamingock_db: Path, clock) -> None:
    before = sqlite3.connect(flamingock_db).execute(
        "SELECT sql FROM sqlite_master WHERE name = 'flamingockAuditLog'").fetchone()
    store = open_store(flamingock_db, clock)
    objects = store.conn.execute("SELECT type, name, tbl_name FROM sqlite_master").fetchall()
    on_flamingock = [(t, n) for t, n, tbl in objects if tbl == "flamingockAuditLog"]
    assert on_flamingock == [("table", "flamingockAuditLog"), ("index", "setright_audit_change_idx")]
    assert all(n.startswith(("setright_", "flamingock", "sqlite_autoindex_"))
               for _, n, _ in objects)
    after = store.conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'flamingockAuditLog'").fetchone()
    assert before == after  # the table's shape is untouched
    assert not store.conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'setright_audit_log'").fetchone()


def test_reads_flamingock_rows_and_finds_the_three_issues(flamingock_db: Path, clock) -> None:
    store = open_store(flamingock_db, clock)
    store.refresh()
    assert current_state(store.conn, "payment-processing").state == "ROLLBACK_FAILED"  # tie → priority
    issues = {v.facts.change_id: v.reason for v in find_issues(store.conn, clock.now_ms())}
    assert issues == {
        "user-data-sync-v2": "started-never-completed",
        "cache-warming-q4": "failed-non-transactional",
        "payment-processing": "rollback-failed",
    }


@pytest.mark.parametrize(("status", "expires_in", "running"), [
    ("LOCK_HELD", 30_000, True),     # a live Flamingock lock: the STARTED change is running
    ("LOCK_HELD", -1, False),        # expired
    ("RELEASED", 30_000, False),     # released
])
def test_flamingock_lock_decides_started(flamingock_db: Path, clock, status, expires_in,
                                         running) -> None:
    conn = sqlite3.connect(flamingock_db)
    conn.execute("INSERT INTO flamingockLock VALUES ('flamingock-lock', ?, 'runner-1', ?)",
                 (status, T0 + expires_in))
    conn.commit()
    conn.close()
    store = open_store(flamingock_db, clock)
    store.refresh()
    verdict = verdict_for(store.conn, clock.now_ms(), "user-data-sync-v2")
    assert verdict.reason == ("running" if running else "started-never-completed")
    assert verdict.is_issue is not running


def test_manual_mark_on_a_flamingock_table(flamingock_db: Path, clock) -> None:
    store = open_store(flamingock_db, clock)
    with store.write() as tx:
        mark_change(tx, "flamingockAuditLog", "cache-warming-q4", "APPLIED",
                    Provenance(actor="ops@example.com", source="cli"), now_ms=clock.now_ms(),
                    execution_id="fx-1")
    # Flamingock, reading its own table the plain way, sees the mark last.
    plain = sqlite3.connect(flamingock_db)
    latest = plain.execute(
        "SELECT state, created_at, typeof(created_at), author FROM flamingockAuditLog"
        " WHERE change_id = 'cache-warming-q4' ORDER BY created_at DESC LIMIT 1").fetchone()
    assert latest == ("MANUAL_MARKED_AS_APPLIED", T0, "integer", "ops@example.com")
