"""Leases: a runner whose lease was taken over writes nothing more (in-process, pinned clock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runhelp import Project, audit_states, state_rows
from setright.errors import LeaseLost
from setright.runner.targets import SqliteTarget
from setright.store.applies import get_apply, operations_of, tasks_of
from setright.store.locks import Locker
from setright.timeutil import FixedClock
from storehelp import T0


@pytest.mark.parametrize("transactional", [False, True], ids=["non-tx", "tx"])
def test_paused_runner_whose_lease_was_taken_over_writes_nothing_more(
        tmp_path: Path, transactional: bool) -> None:
    project = Project(tmp_path / "p")
    project.change("_0001__base", apply="CREATE TABLE t (id INTEGER)")
    project.change("_0002__slow", transactional=transactional,
                   apply="INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);")
    project.change("_0003__after", apply="INSERT INTO t VALUES (3)")
    clock = FixedClock(T0)
    paused = project.open_store(clock)
    other = project.open_store(clock)
    seen: dict[str, object] = {}

    def pause_then_get_taken_over(change_id: str, first: int, last: int) -> None:
        if change_id != "slow" or "after" in seen:
            return
        # the runner "pauses" past its lease; another runner takes the target over
        clock.advance(61)
        [takeover] = project.run(other)
        seen["takeover"] = takeover
        seen["after"] = (state_rows(other), project.query("SELECT id FROM t ORDER BY id"),
                         project.markers())

    [outcome] = project.run(paused, after_commit=pause_then_get_taken_over)
    takeover = seen["takeover"]
    # the other runner reaped the paused runner's apply, settled it from the markers ...
    assert [r.apply_id for r in takeover.reaped] == [outcome.apply_id]  # type: ignore[attr-defined]
    apply = get_apply(other.conn, outcome.apply_id)
    assert apply.state == "failed" and apply.error.startswith("runner lost: lease expired at")
    # ... and the paused runner, resumed, stopped without a single write
    assert outcome.status == "lease-lost" and not outcome.ok
    assert (state_rows(other), project.query("SELECT id FROM t ORDER BY id"),
            project.markers()) == seen["after"]
    slow = [t for t in tasks_of(other.conn, outcome.apply_id) if t.change_id == "slow"][0]
    if transactional:
        # its COMMIT landed before the pause: recovered as APPLIED from the markers
        assert slow.state == "completed"
        assert audit_states(other, "slow") == ["STARTED", "APPLIED"]
        assert takeover.status == "completed"  # type: ignore[attr-defined]
        assert project.query("SELECT id FROM t ORDER BY id") == [(1,), (2,), (3,)]
    else:
        # operation 1 committed, operation 2 never ran: STARTED stays, the target is blocked
        assert slow.state == "failed"
        assert [o.state for o in operations_of(other.conn, outcome.apply_id, "slow")] == [
            "completed", "pending"]
        assert audit_states(other, "slow") == ["STARTED"]
        assert takeover.status == "blocked"  # type: ignore[attr-defined]
        assert project.query("SELECT id FROM t ORDER BY id") == [(1,)]
    assert audit_states(other, "after") == (["STARTED", "APPLIED"] if transactional else [])


def test_runner_stops_when_its_lease_expired_even_if_nobody_took_it(tmp_path: Path) -> None:
    project = Project(tmp_path / "p")
    project.change("_0001__loose", transactional=False,
                   apply="CREATE TABLE t (id INTEGER);\nINSERT INTO t VALUES (1);")
    clock = FixedClock(T0)
    store = project.open_store(clock)
    snapshot: dict[str, object] = {}

    def sleep_past_expiry(change_id: str, first: int, last: int) -> None:
        clock.advance(61)
        snapshot["rows"] = state_rows(store)

    [outcome] = project.run(store, after_commit=sleep_past_expiry)
    assert outcome.status == "lease-lost" and "expired" in outcome.error
    assert state_rows(store) == snapshot["rows"]
    assert project.markers() == [("loose", 1)]
    assert get_apply(store.conn, outcome.apply_id).state == "running"  # left for the reaper


def test_an_expired_lease_is_never_revived(tmp_path: Path) -> None:
    clock = FixedClock(T0)
    store = Project(tmp_path / "p").open_store(clock)
    locker = Locker(store, ttl=60)
    lock, _ = locker.acquire("target:app", "run")
    clock.advance(30)
    lock = locker.renew_lease(lock, None)
    assert lock.expires_at == "2026-11-22T12:01:30.000Z"
    clock.advance(60)
    with pytest.raises(LeaseLost):
        locker.renew_lease(lock, None)


def test_target_fence_refuses_a_runner_after_another_claimed_the_target(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    first = SqliteTarget.open("t", path, create=True)
    second = SqliteTarget.open("t", path, create=True)
    first.claim("lock-1", "a@h:1", "now")
    with first.transaction("lock-1") as tx:
        tx.execute("CREATE TABLE x (id INTEGER)")
    second.claim("lock-2", "b@h:2", "later")
    with pytest.raises(LeaseLost):
        with first.transaction("lock-1") as tx:
            tx.execute("INSERT INTO x VALUES (1)")  # pragma: no cover - refused before this
    with pytest.raises(LeaseLost):
        with first.transaction("lock-1") as tx:
            pass
    assert second.conn.execute("SELECT count(*) FROM x").fetchone() == (0,)
    assert not first.conn.in_transaction
    first.close()
    second.close()


def test_the_keeper_renews_while_the_runner_holds_a_store_write(tmp_path: Path) -> None:
    """The runner fences every store write with its lease while the keeper renews it.

    The keeper must never hold the lease's in-process lock while it waits for
    the store: the runner takes that lock inside its write transaction, and
    the two would wait for each other until the store's busy timeout (5 s,
    longer than the ttl) ended the renewal — a lease lost by a live runner.
    """
    import time

    from setright.runner.lease import Lease, LeaseKeeper
    from setright.timeutil import SystemClock

    store = Project(tmp_path / "p").open_store(SystemClock())
    locker = Locker(store, ttl=3)
    lock, _ = locker.acquire("target:app", "run")
    lease = Lease(store, locker, lock)
    keeper = LeaseKeeper(lease, store.path, store.audit_table, store.clock,
                         on_lost=lambda: None).start()
    try:
        with store.write() as tx:
            time.sleep(1.5)  # the keeper (every ttl/3 = 1 s) tries to renew, and waits
            started = time.monotonic()
            lease.fence(tx)  # a runner's store write, checking its lease
            fenced_in = time.monotonic() - started
        assert fenced_in < 0.5
        deadline = time.monotonic() + 5
        while lease.lock.expires_at == lock.expires_at and time.monotonic() < deadline:
            time.sleep(0.02)  # once the write is done, the keeper's retry gets through
        assert lease.lost is None
        assert lease.lock.expires_at > lock.expires_at
        row = store.conn.execute("SELECT expires_at FROM setright_locks WHERE name = ?",
                                 ("target:app",)).fetchone()
        assert row == (lease.lock.expires_at,)
    finally:
        keeper.stop()
        store.close()


def lease_at(tmp_path: Path, clock: FixedClock) -> tuple[object, Locker]:
    from setright.runner.lease import Lease

    store = Project(tmp_path / "p").open_store(clock)
    locker = Locker(store, ttl=60)
    lock, _ = locker.acquire("target:app", "run")
    return Lease(store, locker, lock), locker


def test_a_lease_is_lost_at_its_expiry_millisecond_not_after(tmp_path: Path) -> None:
    """The check compares the row's expiry in ms (parsed once per value): live one ms
    before it, lost exactly at it, as the ISO text comparison it replaces decided."""
    clock = FixedClock(T0)
    lease, _ = lease_at(tmp_path, clock)
    clock.ms = T0 + 60_000 - 1
    lease.fence(lease.store.conn)  # type: ignore[attr-defined]
    clock.ms = T0 + 60_000
    with pytest.raises(LeaseLost, match="expired at 2026-11-22T12:01:00.000Z"):
        lease.fence(lease.store.conn)  # type: ignore[attr-defined]


def test_check_renews_once_a_third_of_the_ttl_has_passed(tmp_path: Path) -> None:
    clock = FixedClock(T0)
    lease, _ = lease_at(tmp_path, clock)
    clock.ms = T0 + 20_000                    # expiry is exactly now + 2/3 ttl: not due
    lease.check()  # type: ignore[attr-defined]
    assert lease.expires_at == "2026-11-22T12:01:00.000Z"  # type: ignore[attr-defined]
    clock.ms = T0 + 20_001
    lease.check()  # type: ignore[attr-defined]
    assert lease.expires_at == "2026-11-22T12:01:20.001Z"  # type: ignore[attr-defined]


@pytest.mark.parametrize("expires_at", ["2026-11-22T12:01:00.000Z", "2026-11-22 12:01:00",
                                        "2026-11-22T12:01:00Z", "soon"])
def test_the_expiry_compares_as_its_iso_text_would(tmp_path: Path, expires_at: str) -> None:
    from setright.timeutil import iso_from_ms

    lease, _ = lease_at(tmp_path, FixedClock(T0))
    for ms in (T0 + 59_999, T0 + 60_000, T0 + 60_001, T0 - 10**9, T0 + 10**9):
        other = iso_from_ms(ms)
        wanted = (expires_at > other) - (expires_at < other)
        assert lease._compare(expires_at, ms) == wanted, (expires_at, ms)  # type: ignore[attr-defined]


def lock_reads(lease: object) -> list[str]:
    """The statements that read the lock row, from now on."""
    seen: list[str] = []
    lease.store.conn.set_trace_callback(  # type: ignore[attr-defined]
        lambda sql: seen.append(sql) if "FROM setright_locks" in sql else None)
    return seen


def test_the_check_after_a_store_write_takes_the_fence_s_read_as_its_verdict(
        tmp_path: Path) -> None:
    """A store write's fence read the lock row; the first check after it (no target
    statement in between) judges by that read, every later check reads the row again."""
    clock = FixedClock(T0)
    lease, _ = lease_at(tmp_path, clock)
    reads = lock_reads(lease)
    with lease.store.write() as tx:  # type: ignore[attr-defined]
        lease.fence(tx)  # type: ignore[attr-defined]
    assert len(reads) == 1
    clock.ms = T0 + 5_000
    assert lease.check() == T0 + 5_000  # type: ignore[attr-defined]
    assert len(reads) == 1
    lease.store.conn.execute(  # type: ignore[attr-defined]
        "UPDATE setright_locks SET lock_id = 'someone-else' WHERE name = 'target:app'")
    with pytest.raises(LeaseLost, match="taken over"):
        lease.check()  # type: ignore[attr-defined]
    assert len(reads) == 2


def test_a_fence_s_verdict_due_for_renewal_is_read_again_and_renewed(tmp_path: Path) -> None:
    clock = FixedClock(T0)
    lease, _ = lease_at(tmp_path, clock)
    reads = lock_reads(lease)
    with lease.store.write() as tx:  # type: ignore[attr-defined]
        lease.fence(tx)  # type: ignore[attr-defined]
    clock.ms = T0 + 20_001                   # a third of the ttl has passed since
    lease.check()  # type: ignore[attr-defined]
    assert len(reads) >= 2                   # read again (and the renewal's own reads)
    assert lease.expires_at == "2026-11-22T12:01:20.001Z"  # type: ignore[attr-defined]


def test_a_fence_s_verdict_past_the_expiry_is_read_again_and_lost(tmp_path: Path) -> None:
    clock = FixedClock(T0)
    lease, _ = lease_at(tmp_path, clock)
    with lease.store.write() as tx:  # type: ignore[attr-defined]
        lease.fence(tx)  # type: ignore[attr-defined]
    clock.ms = T0 + 60_000
    with pytest.raises(LeaseLost, match="expired at 2026-11-22T12:01:00.000Z"):
        lease.check()  # type: ignore[attr-defined]
