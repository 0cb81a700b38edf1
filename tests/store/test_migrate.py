"""`store migrate` between SQLite stores: a complete copy, verified, or nothing."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from migratehelp import big_store, dump, filled_project, kill_mid_copy
from setright.db import parse_url
from setright.errors import StoreError
from setright.store import Store
from setright.store.audit import append_audit_row
from setright.store.issues import find_issues
from setright.store.migrate import migrate_store, occupied_tables
from setright.store.transitions import Provenance, record_event
from setright.timeutil import FixedClock
from storehelp import T0, make_flamingock_db


def url(path: Path) -> object:
    return parse_url(f"sqlite:///{path}", path.parent)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def source(tmp_path: Path, clock: FixedClock) -> Store:
    project = filled_project(tmp_path / "project", clock)
    store = project.open_store(clock)
    yield store
    store.close()


def test_every_table_is_copied_with_its_ids_lineage_and_serial(source: Store, tmp_path: Path,
                                                               clock: FixedClock) -> None:
    before = dump(source)
    assert all(before.values()), "the fixture fills every table"
    moved = tmp_path / "moved" / "audit.db"
    result = migrate_store(source, url(moved), batch_rows=2)  # pages across composite keys
    assert [t.table for t in result.tables] == list(before)
    assert {t.table: t.rows for t in result.tables} == {t: len(r) for t, r in before.items()}
    assert result.lineage == source.lineage and result.serial == source.serial
    assert result.live_locks == 1
    copy = Store.open(moved, clock=clock)
    try:
        assert dump(copy) == before == dump(source)  # the source is untouched too
        types = "SELECT typeof(created_at), typeof(id) FROM setright_audit_log ORDER BY id"
        assert copy.conn.execute(types).fetchall() == source.conn.execute(types).fetchall()
        assert (copy.lineage, copy.serial) == (source.lineage, source.serial)
        assert [v.facts.change_id for v in find_issues(copy.conn, T0)] == [
            v.facts.change_id for v in find_issues(source.conn, T0)]
    finally:
        copy.close()


def test_rows_written_after_the_move_get_fresh_ids(source: Store, tmp_path: Path,
                                                   clock: FixedClock) -> None:
    moved = tmp_path / "moved.db"
    migrate_store(source, url(moved))
    copy = Store.open(moved, clock=clock)
    try:
        top_audit = copy.conn.execute("SELECT max(id) FROM setright_audit_log").fetchone()[0]
        top_event = copy.conn.execute("SELECT max(id) FROM setright_events").fetchone()[0]
        with copy.write() as tx:
            audit_id = append_audit_row(tx, copy.audit_table, {
                "change_id": "later", "state": "STARTED", "target_system_id": "app"},
                now_ms=T0)
            event_id = record_event(tx, at="2026-11-22T12:00:00.000Z", apply_id=None,
                                    change_id="later", kind="mark", old_state=None,
                                    new_state="APPLIED",
                                    prov=Provenance(actor="a", source="cli"))
        assert (audit_id, event_id) == (top_audit + 1, top_event + 1)
    finally:
        copy.close()


def test_a_store_created_but_never_written_is_an_empty_destination(
        source: Store, tmp_path: Path, clock: FixedClock) -> None:
    moved = tmp_path / "moved.db"
    Store.open(moved, clock=clock).close()  # what `setright init` leaves
    migrate_store(source, url(moved))
    copy = Store.open(moved, clock=clock)
    try:
        assert copy.lineage == source.lineage  # the seed's own lineage is replaced
        assert dump(copy) == dump(source)
    finally:
        copy.close()


def test_a_destination_with_rows_is_refused_and_left_as_it_was(
        source: Store, tmp_path: Path, clock: FixedClock) -> None:
    other = filled_project(tmp_path / "other", clock)
    moved = other.root / ".setright" / "audit.db"
    before = file_digest(moved)
    with pytest.raises(StoreError) as refused:
        migrate_store(source, url(moved))
    assert refused.value.message == f"the destination sqlite:///{moved} is not empty"
    assert "setright_applies (1 row)" in refused.value.details[0]
    assert file_digest(moved) == before


def test_the_store_itself_is_refused(source: Store) -> None:
    with pytest.raises(StoreError, match="is the store being migrated"):
        migrate_store(source, url(source.path))


def test_a_destination_that_changes_values_is_rolled_back(source: Store, tmp_path: Path,
                                                          clock: FixedClock) -> None:
    """A trigger rewrites what it is given: the digests differ and nothing commits."""
    moved = tmp_path / "moved.db"
    Store.open(moved, clock=clock).close()
    conn = sqlite3.connect(moved)
    conn.execute("CREATE TRIGGER meddle AFTER INSERT ON setright_ledger BEGIN"
                 " UPDATE setright_ledger SET actor = 'someone else'"
                 " WHERE resolution_file = NEW.resolution_file AND entry_key = NEW.entry_key;"
                 " END")
    conn.close()
    with pytest.raises(StoreError) as refused:
        migrate_store(source, url(moved))
    assert refused.value.message == (
        f"the copy of setright_ledger in sqlite:///{moved} does not match the source")
    copy = Store.open(moved, clock=clock)
    try:
        assert occupied_tables(copy.conn, copy.impl, copy.audit_table) == []
    finally:
        copy.close()


def test_a_failure_mid_copy_leaves_an_empty_store_that_a_retry_fills(
        source: Store, tmp_path: Path, clock: FixedClock) -> None:
    moved = tmp_path / "moved.db"

    def fail(table: str, done: int, total: int) -> None:
        if table == "setright_operations":
            raise RuntimeError("the network went away")

    with pytest.raises(RuntimeError):
        migrate_store(source, url(moved), batch_rows=1, progress=fail)
    copy = Store.open(moved, clock=clock)
    try:
        assert occupied_tables(copy.conn, copy.impl, copy.audit_table) == []
    finally:
        copy.close()
    migrate_store(source, url(moved))
    copy = Store.open(moved, clock=clock)
    try:
        assert dump(copy) == dump(source)
    finally:
        copy.close()


def test_a_process_killed_mid_copy_leaves_a_destination_a_retry_accepts(
        tmp_path: Path, clock: FixedClock) -> None:
    source_path = tmp_path / "big.db"
    big = big_store(source_path, clock)
    moved = tmp_path / "moved.db"
    kill_mid_copy(source_path, f"sqlite:///{moved}")
    copy = Store.open(moved, clock=clock)
    try:
        assert occupied_tables(copy.conn, copy.impl, copy.audit_table) == []
    finally:
        copy.close()
    result = migrate_store(big, url(moved))
    assert result.tables[0].rows == 10_000
    copy = Store.open(moved, clock=clock)
    try:
        assert dump(copy) == dump(big)
    finally:
        copy.close()
        big.close()


def test_a_flamingock_table_with_mixed_types_keeps_every_value_and_type(
        tmp_path: Path, clock: FixedClock) -> None:
    """SQLite columns hold what they were given: ms integers and two text time formats in
    `created_at`, text in an INTEGER column, a REAL; each survives as it was."""
    path = make_flamingock_db(tmp_path / "flamingock.db")
    conn = sqlite3.connect(path)
    conn.executemany(
        "INSERT INTO flamingockAuditLog (change_id, state, created_at, execution_millis,"
        " transaction_flag, metadata) VALUES (?, ?, ?, ?, ?, ?)",
        [("iso", "APPLIED", "2026-11-22T11:00:00.250Z", "n/a", 1, "{}"),
         ("java", "APPLIED", "2026-11-22 11:30:00.125", 12.5, 0, 7),
         ("blob", "APPLIED", T0 - 1, 3, None, b"\x00\xff")])
    conn.execute("INSERT INTO flamingockLock VALUES ('flamingock-lock', 'LOCK_HELD', 'r', 1)")
    conn.commit()
    conn.close()
    source = Store.open(path, audit_table="flamingockAuditLog", clock=clock)
    source.refresh()
    moved = tmp_path / "moved.db"
    migrate_store(source, url(moved))
    copy = Store.open(moved, audit_table="flamingockAuditLog", clock=clock)
    try:
        typed = ("SELECT id, created_at, typeof(created_at), execution_millis,"
                 " typeof(execution_millis), metadata, typeof(metadata)"
                 " FROM flamingockAuditLog ORDER BY id")
        assert copy.conn.execute(typed).fetchall() == source.conn.execute(typed).fetchall()
        assert dump(copy) == dump(source)
        assert copy.meta("audit_table") == "flamingockAuditLog"
        assert not copy.table_exists("flamingockLock")  # Flamingock's own lock: not the store's
    finally:
        copy.close()
        source.close()
