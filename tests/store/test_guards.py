"""`change_guards` reads, set-based, what one-change reads give: the facts and the guard data."""

from __future__ import annotations

from typing import Any

import pytest

from setright.db import Connection
from setright.store import Store, guards
from setright.store.applies import creation_order
from setright.store.guards import change_guards
from setright.store.issues import gather_facts
from storehelp import T0, apply_row, audit, task_row

LIVE = "2026-11-22T12:05:00.000Z"     # five minutes after the clock's start


def one_guard(conn: Connection, change_id: str) -> dict[str, Any] | None:
    """The guard of one change, read by itself (what a plan read per entry before)."""
    row = conn.execute("SELECT audit_id, state, target_system_id FROM setright_change_state"
                       " WHERE change_id = ?", (change_id,)).fetchone()
    if row is None:
        return None
    task = conn.execute(
        "SELECT t.apply_id, t.position, t.state, a.state FROM setright_tasks t"
        " JOIN setright_applies a ON a.id = t.apply_id WHERE t.change_id = ?"
        f" ORDER BY {creation_order(conn, 'a', descending=True)} LIMIT 1",
        (change_id,)).fetchone()
    return {"change_id": change_id, "audit_id": row[0], "state": row[1], "target": row[2],
            "latest_task": None if task is None else {
                "apply_id": task[0], "position": task[1], "state": task[2],
                "apply_state": task[3]}}


@pytest.fixture
def varied(store: Store) -> Store:
    """Changes in every shape a guard reads: leases live and terminal, tasks in two applies."""
    with store.write() as tx:
        apply_row(tx, "ap-run", "user-db", "running", lease_token="t", lease_expires_at=LIVE)
        apply_row(tx, "ap-old", "user-db", "failed", lease_token="t", lease_expires_at=LIVE)
        apply_row(tx, "ap-new", "user-db", "failed")
        task_row(tx, "ap-old", 1, "c-two-applies", "FAILED")
        task_row(tx, "ap-new", 3, "c-two-applies", "PENDING")
        task_row(tx, "ap-run", 1, "c-running", "RUNNING")
    audit(store, "c-running", "STARTED", execution_id="ap-run")
    audit(store, "c-terminal", "STARTED", execution_id="ap-old")
    audit(store, "c-two-applies", "FAILED", execution_id="ap-new", tx="TX_SHARED")
    audit(store, "c-done", "APPLIED", target="orders-db")
    audit(store, "c-rolled", "ROLLED_BACK", execution_id="ap-new")
    store.refresh()
    return store


IDS = ["c-running", "c-terminal", "c-two-applies", "c-done", "c-rolled", "c-missing"]


@pytest.mark.parametrize("chunk", [500, 2])
def test_the_batch_reads_what_one_change_reads(varied: Store, monkeypatch, chunk) -> None:
    monkeypatch.setattr(guards, "CHUNK", chunk)
    with varied.read():
        conn = varied.conn
        found = change_guards(conn, T0, [*IDS, "c-done"])   # repeats are read once
        assert sorted(found) == sorted(IDS[:-1])
        for change_id in IDS[:-1]:
            [facts] = gather_facts(conn, T0, change_id=change_id, unsettled_only=False)
            assert found[change_id].facts == facts
            assert found[change_id].data == one_guard(conn, change_id)
    assert found["c-running"].facts.lease_live and not found["c-terminal"].facts.lease_live
    assert found["c-two-applies"].data["latest_task"]["apply_id"] == "ap-new"


def test_a_live_flamingock_lock_is_in_every_change_facts(varied: Store) -> None:
    with varied.write() as tx:
        tx.execute("CREATE TABLE flamingockLock (key TEXT, status TEXT, owner TEXT,"
                   " expires_at INTEGER)")
        tx.execute("INSERT INTO flamingockLock VALUES ('k', 'LOCK_ACQUIRED', 'runner-1', ?)",
                   (T0 + 60_000,))
    with varied.read():
        found = change_guards(varied.conn, T0, IDS)
        for change_id in IDS[:-1]:
            [facts] = gather_facts(varied.conn, T0, change_id=change_id, unsettled_only=False)
            assert found[change_id].facts == facts
    assert found["c-terminal"].facts.flamingock_lock_live
    assert found["c-terminal"].facts.lock_owner == "runner-1"


def test_nothing_asked_nothing_read(store: Store) -> None:
    assert change_guards(store.conn, T0, []) == {}
