"""Opening, creating and upgrading the store; transactions and serial."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from setright.db.sqlite import SORTER_THREADS
from setright.errors import StoreError
from setright.store import Store
from setright.store.schema import SCHEMA_VERSION
from storehelp import apply_row, audit, state_tables

SETRIGHT_TABLES = {
    "setright_meta", "setright_change_state", "setright_applies", "setright_tasks",
    "setright_operations", "setright_events", "setright_locks", "setright_ledger",
    "setright_schema_snapshots", "setright_audit_log",
}


def tables(store: Store) -> set[str]:
    return {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_new_store_has_every_table_wal_and_full_sync(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "deep" / "er" / "audit.db")
    assert tables(store) == SETRIGHT_TABLES
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    assert store.conn.execute("PRAGMA threads").fetchone()[0] == SORTER_THREADS
    assert store.meta("schema_version") == str(SCHEMA_VERSION)
    assert len(store.lineage) == 36
    assert store.serial == 0
    indexes = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"setright_audit_change_idx", "setright_applies_one_active_idx",
            "setright_applies_target_state_idx", "setright_events_apply_idx",
            "setright_events_change_idx", "setright_ledger_digest_idx"} <= indexes


def test_reopening_keeps_lineage(tmp_path: Path) -> None:
    first = Store.open(tmp_path / "a.db")
    lineage = first.lineage
    first.close()
    assert Store.open(tmp_path / "a.db").lineage == lineage


def test_state_write_bumps_serial_bookkeeping_does_not(backend_store: Store) -> None:
    store = backend_store
    audit(store, "c1", "STARTED")
    assert store.serial == 1
    store.refresh()
    with store.write(state=False):
        pass
    assert store.serial == 1


def test_failed_transaction_leaves_state_tables_untouched(backend_store: Store) -> None:
    store = backend_store
    audit(store, "c1", "STARTED")
    before = state_tables(store), store.serial
    with pytest.raises(RuntimeError), store.write() as tx:
        tx.execute(f"INSERT INTO {store.impl.quote(store.audit_table)} (change_id, state)"
                   " VALUES ('c2', 'X')")
        apply_row(tx, "ap-1", "user-db", "running")
        raise RuntimeError("killed mid-way")
    assert (state_tables(store), store.serial) == before


def test_one_non_terminal_apply_per_target(backend_store: Store) -> None:
    store = backend_store   # MySQL: a generated column emulates the partial unique index
    with store.write() as tx:
        apply_row(tx, "ap-1", "user-db", "running")
        apply_row(tx, "ap-0", "user-db", "failed")      # terminal ones do not count
        apply_row(tx, "ap-9", "user-db", "completed")
        apply_row(tx, "ap-2", "orders-db", "pending")   # another target is independent
    for state in ("pending", "running", "failed_retryable"):
        with pytest.raises(Exception) as refused, store.write() as tx:
            apply_row(tx, "ap-3", "user-db", state)
        assert store.impl.is_integrity_error(refused.value), refused.value
    # ...and an update that would create a second one is refused too
    with pytest.raises(Exception) as refused, store.write() as tx:
        tx.execute("UPDATE setright_applies SET state = 'failed_retryable' WHERE id = 'ap-0'")
    assert store.impl.is_integrity_error(refused.value), refused.value
    states = store.conn.execute("SELECT id, state FROM setright_applies ORDER BY id").fetchall()
    assert [tuple(r) for r in states] == [("ap-0", "failed"), ("ap-1", "running"),
                                         ("ap-2", "pending"), ("ap-9", "completed")]


def test_two_processes_creating_the_same_store_at_once(tmp_path: Path) -> None:
    path = tmp_path / "race" / "audit.db"
    script = (
        "import sys; from pathlib import Path; from setright.store import Store;"
        "s = Store.open(Path(sys.argv[1])); print(s.lineage); s.close()"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    results = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    lineages = {out.strip() for out, _ in results}
    assert len(lineages) == 1  # one store, created once
    store = Store.open(path)
    assert store.lineage in lineages
    assert store.conn.execute("SELECT count(*) FROM setright_meta WHERE key='lineage'").fetchone()[0] == 1


def test_upgrade_from_an_older_schema_version(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "a.db")
    lineage = store.lineage
    store.conn.execute("UPDATE setright_meta SET value = '0' WHERE key = 'schema_version'")
    store.conn.execute("DROP INDEX setright_events_change_idx")
    store.close()
    again = Store.open(tmp_path / "a.db")
    assert again.meta("schema_version") == str(SCHEMA_VERSION)
    assert again.lineage == lineage  # an upgrade never changes lineage
    assert again.conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'setright_events_change_idx'").fetchone()


def test_store_refuses_a_table_that_is_not_an_audit_log(tmp_path: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(tmp_path / "a.db")
    conn.execute("CREATE TABLE flamingockAuditLog (id INTEGER PRIMARY KEY, change_id TEXT)")
    conn.close()
    with pytest.raises(StoreError) as err:
        Store.open(tmp_path / "a.db", audit_table="flamingockAuditLog")
    assert "not a Flamingock-layout audit log" in err.value.message
    assert "missing columns: execution_id" in err.value.details[0]


def test_store_refuses_another_audit_table_than_it_folds(tmp_path: Path) -> None:
    Store.open(tmp_path / "a.db").close()
    with pytest.raises(StoreError) as err:
        Store.open(tmp_path / "a.db", audit_table="other_log")
    assert "folds audit table 'setright_audit_log'" in err.value.message


def test_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "a.db").write_text("hello, I am a text file" * 100)
    with pytest.raises(StoreError) as err:
        Store.open(tmp_path / "a.db")
    assert "cannot open the audit store" in err.value.message


def test_a_rollback_that_fails_does_not_hide_what_failed(store, monkeypatch) -> None:
    """A Ctrl-C mid-query on a server can leave the connection unable to roll back; before,
    the rollback's own error (`InterfaceError (0, '')`) replaced the interrupt, and the
    command ended in an internal error."""
    import pytest

    def broken(conn):   # what psycopg or PyMySQL do on a connection the interrupt broke
        raise RuntimeError("another command is already in progress")

    monkeypatch.setattr(store.impl, "rollback", broken)
    with pytest.raises(KeyboardInterrupt):
        with store.write():
            raise KeyboardInterrupt


def test_releasing_a_lock_quietly_never_raises(store, monkeypatch) -> None:
    from setright.store.locks import Locker

    locker = Locker(store, ttl=60, owner="ops@laptop:1")
    lock, _ = locker.acquire("target:app", "run")

    def unwritable(**_):
        raise RuntimeError("nested store transaction")

    monkeypatch.setattr(store, "write", unwritable)
    locker.release_quietly(lock)    # left to expire after its ttl
