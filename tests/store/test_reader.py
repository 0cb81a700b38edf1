"""`Store.open_reader`: read-only, never creating, folding in memory."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from setright.config import TargetConfig
from setright.errors import StoreError
from setright.runner.targets import TargetError, open_target
from setright.store import Store
from setright.store.schema import SCHEMA_VERSION
from setright.store.audit_listing import list_current
from setright.timeutil import FixedClock
from storehelp import T0, audit, make_flamingock_db, read_only


def listing(root: Path) -> dict[str, str]:
    """Every file and folder under `root`, with a digest of each file's bytes."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return out




def lagging_store(path: Path, clock: FixedClock) -> None:
    """A setright store whose change-state cache lacks rows another writer appended."""
    store = Store.open(path, clock=clock)
    audit(store, "a", "STARTED")
    audit(store, "a", "FAILED", error="boom")
    audit(store, "b", "APPLIED")
    # Written the way a Flamingock runner would: straight into the table, no fold.
    with store.write() as tx:
        tx.execute("INSERT INTO setright_audit_log (change_id, state, created_at, tx_strategy,"
                   " target_system_id) VALUES ('b', 'FAILED', ?, 'NON_TX', 'user-db')", (T0 + 50,))
        tx.execute("INSERT INTO setright_audit_log (change_id, state, created_at, tx_strategy,"
                   " target_system_id) VALUES ('c', 'STARTED', ?, 'NON_TX', 'user-db')", (T0 + 60,))
    store.close()


def current(store: Store) -> list[dict[str, object]]:
    with store.read() as conn:
        return list_current(conn, store.audit_table)


def test_missing_store_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    before = listing(tmp_path)
    with pytest.raises(StoreError) as caught:
        Store.open_reader(tmp_path / ".setright" / "audt.db", url="sqlite:///.setright/audt.db")
    assert caught.value.message == "no audit store at sqlite:///.setright/audt.db"
    assert listing(tmp_path) == before


@pytest.mark.parametrize("content", ["empty file", "database without setright tables"])
def test_a_file_that_is_not_a_store_is_no_store(tmp_path: Path, content: str) -> None:
    path = tmp_path / "other.db"
    if content == "empty file":
        path.write_bytes(b"")
    else:
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE users (id INTEGER)")
        conn.commit()
        conn.close()
    before = listing(tmp_path)
    with pytest.raises(StoreError, match=r"^no audit store at sqlite:///other\.db$"):
        Store.open_reader(path, url="sqlite:///other.db")
    assert listing(tmp_path) == before


def test_credentials_are_never_shown(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        Store.open_reader(tmp_path / "x.db", url="sqlite://ops:hunter2@/x.db")
    assert "hunter2" not in caught.value.message and "ops" not in caught.value.message


def test_the_reader_connection_cannot_write(tmp_path: Path, clock: FixedClock) -> None:
    Store.open(tmp_path / "audit.db", clock=clock).close()
    store = Store.open_reader(tmp_path / "audit.db", clock=clock)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.conn.execute("INSERT INTO main.setright_meta VALUES ('x', 'y')")
        with pytest.raises(RuntimeError, match="read command tried to write"):
            with store.write():
                pass
        assert store.refresh() == 0
    finally:
        store.close()


def test_a_lagging_cache_is_folded_in_memory_as_a_write_fold_would(tmp_path: Path,
                                                                   clock: FixedClock) -> None:
    path = tmp_path / "audit.db"
    lagging_store(path, clock)
    image = path.read_bytes()
    reader = Store.open_reader(path, clock=clock)
    seen = current(reader)
    reader.close()
    assert path.read_bytes() == image  # the fold stayed in memory
    assert {r["change_id"]: r["state"] for r in seen} == {"a": "FAILED", "b": "FAILED",
                                                         "c": "STARTED"}
    writer = Store.open(path, clock=clock)
    assert writer.refresh() == 2
    assert current(writer) == seen  # exactly what the write fold gives
    writer.close()


def test_rows_appended_after_open_are_folded_in_the_next_snapshot(tmp_path: Path,
                                                                  clock: FixedClock) -> None:
    path = tmp_path / "audit.db"
    lagging_store(path, clock)
    reader = Store.open_reader(path, clock=clock)
    try:
        assert len(current(reader)) == 3
        other = sqlite3.connect(path)
        other.execute("INSERT INTO setright_audit_log (change_id, state, created_at)"
                      " VALUES ('d', 'APPLIED', ?)", (T0 + 70,))
        other.commit()
        other.close()
        assert [r["change_id"] for r in current(reader)] == ["a", "b", "c", "d"]
    finally:
        reader.close()


def test_read_is_one_snapshot_and_reentrant(tmp_path: Path, clock: FixedClock) -> None:
    Store.open(tmp_path / "audit.db", clock=clock).close()
    store = Store.open_reader(tmp_path / "audit.db", clock=clock)
    try:
        with store.read() as outer:
            with store.read() as inner:
                assert inner is outer and store.conn.in_transaction
            assert store.conn.in_transaction
        assert not store.conn.in_transaction
    finally:
        store.close()


def test_a_flamingock_file_reads_as_is_and_stays_byte_identical(tmp_path: Path,
                                                                clock: FixedClock) -> None:
    path = make_flamingock_db(tmp_path / "flamingock.db")
    before = listing(tmp_path)
    store = Store.open_reader(path, "flamingockAuditLog", clock)
    try:
        assert store.lineage is None and store.serial == 0
        with store.read() as conn:
            assert conn.execute("SELECT count(*) FROM setright_applies").fetchone() == (0,)
            states = {r["change_id"]: r["state"] for r in list_current(conn, store.audit_table)}
        assert states == {"create-users": "APPLIED", "user-data-sync-v2": "STARTED",
                          "cache-warming-q4": "FAILED", "payment-processing": "ROLLBACK_FAILED"}
    finally:
        store.close()
    assert listing(tmp_path) == before
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    conn.close()
    assert names == ["flamingockAuditLog", "flamingockLock"]


def test_a_store_for_another_audit_table_reads_it_as_empty(tmp_path: Path,
                                                           clock: FixedClock) -> None:
    Store.open(tmp_path / "audit.db", clock=clock).close()
    with pytest.raises(StoreError, match="folds audit table 'setright_audit_log'"):
        Store.open_reader(tmp_path / "audit.db", "flamingockAuditLog", clock)


def test_an_older_readable_schema_is_read_as_is(tmp_path: Path, clock: FixedClock) -> None:
    path = tmp_path / "audit.db"
    store = Store.open(path, clock=clock)
    audit(store, "a", "FAILED")
    with store.write(state=False) as tx:  # as version 1 left it: no events-by-plan index
        tx.execute("DROP INDEX setright_events_plan_idx")
        tx.execute("UPDATE setright_meta SET value = '1' WHERE key = 'schema_version'")
    store.close()
    image = path.read_bytes()
    reader = Store.open_reader(path, clock=clock)
    assert [r["state"] for r in current(reader)] == ["FAILED"]
    reader.close()
    assert path.read_bytes() == image  # not upgraded


def test_a_schema_too_old_to_read_needs_a_writer(tmp_path: Path, clock: FixedClock) -> None:
    path = tmp_path / "audit.db"
    Store.open(path, clock=clock).close()
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM setright_meta WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as caught:
        Store.open_reader(path, clock=clock, url="sqlite:///audit.db")
    assert caught.value.message == (
        "the audit store at sqlite:///audit.db needs an upgrade; run a writer "
        "(setright run / apply) or setright init")
    Store.open(path, clock=clock).close()  # a writer upgrades it
    Store.open_reader(path, clock=clock).close()


def test_a_schema_newer_than_this_setright_is_neither_read_nor_written(
        tmp_path: Path, clock: FixedClock) -> None:
    """Its tables may mean what this version cannot know (a migrate would drop them)."""
    path = tmp_path / "audit.db"
    Store.open(path, clock=clock).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE setright_meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    image = path.read_bytes()
    for opening in (Store.open_reader, Store.open):
        with pytest.raises(StoreError) as caught:
            opening(path, clock=clock)
        assert caught.value.message.endswith(
            "was written by a newer setright; upgrade setright to use it")
        assert caught.value.details == [
            f"its schema version is 99; this setright knows versions up to {SCHEMA_VERSION}"]
    assert path.read_bytes() == image


def test_a_read_only_folder_and_file(tmp_path: Path, clock: FixedClock) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "audit.db"
    lagging_store(path, clock)
    assert not path.with_name("audit.db-shm").exists()  # the writer closed cleanly
    before = listing(folder)
    with read_only(folder, path):
        store = Store.open_reader(path, clock=clock)
        try:
            states = {r["change_id"]: r["state"] for r in current(store)}
        finally:
            store.close()
    assert states == {"a": "FAILED", "b": "FAILED", "c": "STARTED"}
    assert listing(folder) == before  # no -wal, no -shm, no byte changed


def test_a_read_only_target_is_never_created_or_written(tmp_path: Path) -> None:
    missing = TargetConfig(name="app", url="sqlite:///data/app.db", path=tmp_path / "data" / "app.db",
                           changes=None)
    with pytest.raises(TargetError, match="does not exist"):
        open_target(missing, create=False, readonly=True)
    assert not (tmp_path / "data").exists()

    folder = tmp_path / "t"
    folder.mkdir()
    db = folder / "app.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE users (id INTEGER)")
    conn.commit()
    conn.close()
    before = listing(folder)
    spec = TargetConfig(name="app", url="sqlite:///t/app.db", path=db, changes=None)
    with read_only(folder, db):
        target = open_target(spec, create=False, readonly=True)
        try:
            assert target.markers("ap-1", "c") == set()  # no setright tables: none made
            with pytest.raises(TargetError, match="read-only"):
                target.claim("lk", "me", "now")
        finally:
            target.close()
    assert listing(folder) == before
