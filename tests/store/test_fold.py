"""The current-state fold: latest created_at, ties by priority, kept incrementally."""

from __future__ import annotations

import sqlite3
from typing import Any

from setright.store import Store
from setright.store.audit import current_state, fold_audit_rows, mark_change
from setright.store.audit_listing import list_current
from setright.store.transitions import Provenance
from setright.timeutil import FixedClock
from storehelp import audit
from storehelp import T0


def test_latest_created_at_wins(backend_store: Store) -> None:
    store = backend_store
    audit(store, "c1", "STARTED", at_ms=T0)
    audit(store, "c1", "APPLIED", at_ms=T0 + 5)
    audit(store, "c1", "FAILED", at_ms=T0 + 2)  # written later, but older timestamp
    store.refresh()
    assert current_state(store.conn, "c1").state == "APPLIED"


def test_tie_is_broken_by_priority_not_insertion_order(backend_store: Store) -> None:
    store = backend_store   # on every backend: MySQL's fold is an ordered ON DUPLICATE KEY
    audit(store, "c1", "MANUAL_MARKED_AS_APPLIED", at_ms=T0)
    audit(store, "c1", "STARTED", at_ms=T0)  # same millisecond, lower priority, higher id
    audit(store, "c2", "FAILED", at_ms=T0)
    audit(store, "c2", "ROLLED_BACK", at_ms=T0)
    audit(store, "c2", "APPLIED", at_ms=T0)
    store.refresh()
    assert current_state(store.conn, "c1").state == "MANUAL_MARKED_AS_APPLIED"
    assert current_state(store.conn, "c2").state == "ROLLED_BACK"


def test_an_exact_tie_keeps_the_earlier_row(store: Store) -> None:
    """Same created_at and state: Flamingock's `shouldBeReplacedBy` keeps the row it has."""
    audit(store, "c1", "FAILED", execution_id="first", raw_created_at=T0)
    audit(store, "c1", "FAILED", execution_id="second", raw_created_at=T0)
    store.refresh()
    assert current_state(store.conn, "c1").execution_id == "first"
    # and across two folds: the cached row stays when a later batch only ties it
    audit(store, "c2", "FAILED", execution_id="first", raw_created_at=T0)
    store.refresh()
    audit(store, "c2", "FAILED", execution_id="second", raw_created_at=T0)
    store.refresh()
    assert current_state(store.conn, "c2").execution_id == "first"


def test_mixed_created_at_formats_fold_together(store: Store) -> None:
    audit(store, "c1", "STARTED", raw_created_at="2026-11-22 12:00:00.000")
    audit(store, "c1", "FAILED", raw_created_at="2026-11-22T12:00:00.250Z")
    audit(store, "c1", "APPLIED", raw_created_at=T0 + 100)
    store.refresh()
    current = current_state(store.conn, "c1")
    assert (current.state, current.created_ms) == ("FAILED", T0 + 250)


def test_setright_rows_never_go_back_in_time(backend_store: Store, clock: FixedClock) -> None:
    """Clock skew: another host wrote a row 10 s in our future; our mark still wins the fold."""
    store = backend_store
    audit(store, "c1", "FAILED", at_ms=T0 + 10_000)
    with store.write() as tx:
        mark_change(tx, store.audit_table, "c1", "APPLIED", Provenance(actor="me", source="cli"),
                    now_ms=clock.now_ms(), execution_id="fx-1")
    current = current_state(store.conn, "c1")
    assert current.state == "MANUAL_MARKED_AS_APPLIED"
    assert current.created_ms == T0 + 10_001


def test_same_millisecond_retry_is_ordered(store: Store) -> None:
    """Two runner rows in one millisecond: the second gets +1 ms, so FAILED→STARTED cannot tie."""
    audit(store, "c1", "FAILED")
    audit(store, "c1", "STARTED")
    rows = store.conn.execute(
        f'SELECT state, created_at FROM "{store.audit_table}" ORDER BY id').fetchall()
    assert rows == [("FAILED", T0), ("STARTED", T0 + 1)]
    assert current_state(store.conn, "c1").state == "STARTED"


def test_manual_mark_copies_the_fixed_row_flamingock_style(store: Store) -> None:
    audit(store, "c1", "FAILED", execution_id="ap-1", error="boom", tx="NON_TX")
    with store.write() as tx:
        old, audit_id = mark_change(
            tx, store.audit_table, "c1", "ROLLED_BACK",
            Provenance(actor="jane@example.com", source="cli", reason="reverted", ticket="OPS-1"),
            now_ms=store.now_ms(), execution_id="fx-9")
    cursor = store.conn.execute(f'SELECT * FROM "{store.audit_table}" WHERE id = ?', (audit_id,))
    row = dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))
    assert old == "FAILED"
    assert row["state"] == "MANUAL_MARKED_AS_ROLLED_BACK"
    assert row["execution_id"] == "fx-9"
    assert row["author"] == "jane@example.com"
    assert row["error_trace"] == ""   # as Flamingock writes it: empty, not NULL
    assert (row["target_system_id"], row["tx_strategy"]) == ("user-db", "NON_TX")
    import json

    meta = json.loads(row["metadata"])
    assert meta["k"] == 1  # the fixed row's own metadata survives
    assert meta["setright"] == {"actor": "jane@example.com", "source": "cli",
                                "reason": "reverted", "ticket": "OPS-1"}


def test_incremental_fold_picks_up_rows_written_behind_our_back(tmp_path, clock) -> None:
    store = Store.open(tmp_path / "audit.db", clock=clock)
    audit(store, "c1", "STARTED")
    assert current_state(store.conn, "c1").state == "STARTED"
    # Another runner (plain sqlite3, another connection) appends rows.
    other = sqlite3.connect(tmp_path / "audit.db")
    other.executemany(
        'INSERT INTO "setright_audit_log" (change_id, state, created_at) VALUES (?, ?, ?)',
        [("c1", "APPLIED", T0 + 50), ("c2", "FAILED", T0 + 60)])
    other.commit()
    other.close()
    folded = store.refresh()
    assert folded == 2  # only the new rows were read
    assert current_state(store.conn, "c1").state == "APPLIED"
    assert current_state(store.conn, "c2").state == "FAILED"
    assert store.refresh() == 0
    assert store.meta("folded_audit_id") == "3"
    store.close()


def test_fold_ignores_rows_without_change_id(backend_store: Store) -> None:
    store = backend_store
    store.conn.execute(f"INSERT INTO {store.impl.quote(store.audit_table)} (state) VALUES (?)",
                       ("APPLIED",))
    store.refresh()
    assert list_current(store.conn, store.audit_table) == []


# -- the incremental fold gives a fresh fold's answer ---------------------------------------

def _insert(store: Store, audit_id: int, change_id: str, state: str, at_ms: int,
            error: str | None = None) -> None:
    """An audit row with an explicit id, as a hand edit or a foreign runner writes it."""
    impl = store.impl
    row = impl.audit_write_values(store.conn, store.audit_table,
                                  {"id": audit_id, "change_id": change_id, "state": state,
                                   "error_trace": error, "author": "other"}, at_ms)
    store.conn.execute(f"INSERT INTO {impl.quote(store.audit_table)} ({', '.join(row)})"
                       f" VALUES ({', '.join('?' for _ in row)})", list(row.values()))
    if impl.in_transaction(store.conn):
        impl.commit(store.conn)


def _cache(conn: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(
        "SELECT change_id, audit_id, state, created_ms, error_summary"
        " FROM setright_change_state ORDER BY change_id").fetchall()]


def _fresh_fold(store: Store) -> list[tuple[Any, ...]]:
    """The answer of a first fold of the whole log (in a transaction rolled back)."""
    impl, conn = store.impl, store.conn
    impl.begin(conn, write=True)
    try:
        conn.execute("DELETE FROM setright_change_state")
        top = conn.execute(f"SELECT max(id) FROM {impl.quote(store.audit_table)}").fetchone()[0]
        fold_audit_rows(conn, store.audit_table, 0, int(top or 0))
        return _cache(conn)
    finally:
        impl.rollback(conn)


def _reopened(store: Store) -> tuple[Store, Store]:
    """(a writer, a reader) opened anew on `store`'s database, the writer refreshed."""
    writer = Store.open(store.url, store.audit_table, clock=store.clock)
    writer.refresh()
    return writer, Store.open_reader(store.url, store.audit_table, clock=store.clock)


def _agree(store: Store) -> list[tuple[Any, ...]]:
    """A new writer's refreshed cache and a new reader's fold both equal a fresh fold
    (which is returned)."""
    writer, reader = _reopened(store)
    try:
        expected = _fresh_fold(writer)
        with reader.read() as conn:
            assert _cache(conn) == expected
        assert _cache(writer.conn) == expected
        return expected
    finally:
        reader.close()
        writer.close()


def test_an_exact_tie_folded_later_with_a_lower_id_wins(backend_store: Store) -> None:
    """Two folds that see the rows of a tie in reverse id order (a late commit the look-back
    window reads again): the lower id stays current, as in a fresh fold."""
    store = backend_store
    _insert(store, 20, "c1", "FAILED", T0, error="second")
    _insert(store, 10, "c1", "FAILED", T0, error="first")
    with store.write(state=False) as tx:
        fold_audit_rows(tx, store.audit_table, 10, 20)
        fold_audit_rows(tx, store.audit_table, 0, 20)
    assert current_state(store.conn, "c1").audit_id == 10
    assert _cache(store.conn) == _fresh_fold(store)

