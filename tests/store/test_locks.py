"""Locks: acquire, conflict with Lock Info, expiry, takeover, renew, release, force."""

from __future__ import annotations

import pytest

from setright.errors import LeaseLost, SetrightError, UnknownId
from setright.store import Store
from setright.store.locks import Locker, LockHeld, default_owner
from setright.store.transitions import Provenance
from setright.timeutil import FixedClock
from storehelp import apply_row



@pytest.fixture
def store(backend_store: Store) -> Store:
    """Locks behave the same on every backend."""
    return backend_store


def test_acquire_then_conflict_shows_lock_info(store: Store) -> None:
    mine, previous = Locker(store, ttl=60, owner="alice@h1:1").acquire("target:user-db", "run")
    assert previous is None
    with pytest.raises(LockHeld) as err:
        Locker(store, ttl=60, owner="bob@h2:2").acquire("target:user-db", "apply")
    assert err.value.message == "target:user-db is locked by another process"
    assert err.value.details == [
        "Lock Info:",
        f"  ID:        {mine.lock_id}",
        "  Path:      target:user-db",
        "  Operation: run",
        "  Who:       alice@h1:1",
        "  Created:   2026-11-22T12:00:00.000Z",
        "  Expires:   2026-11-22T12:01:00.000Z",
    ]


def test_expired_lock_is_taken_over(store: Store, clock: FixedClock) -> None:
    old, _ = Locker(store, ttl=60, owner="alice@h1:1").acquire("target:user-db", "run")
    clock.advance(60)  # expires_at <= now counts as free
    new, previous = Locker(store, ttl=60, owner="bob@h2:2").acquire("target:user-db", "run")
    assert previous == old
    assert new.lock_id != old.lock_id
    with pytest.raises(LeaseLost):
        Locker(store, ttl=60).renew(old)  # the old holder finds out at its next renewal


def test_live_lock_taken_over_only_when_asked(store: Store) -> None:
    old, _ = Locker(store, owner="alice@h1:1").acquire("target:user-db", "run")
    new, previous = Locker(store, owner="bob@h2:2").acquire("target:user-db", "redrive",
                                                            take_over=True)
    assert previous == old and new.owner == "bob@h2:2"


def test_renew_pushes_expiry(store: Store, clock: FixedClock) -> None:
    locker = Locker(store, ttl=30, owner="alice@h1:1")
    lock, _ = locker.acquire("target:user-db", "run")
    clock.advance(20)
    renewed = locker.renew(lock)
    assert renewed.expires_at == "2026-11-22T12:00:50.000Z"
    clock.advance(20)  # past the original expiry, within the renewed one
    with pytest.raises(LockHeld):
        Locker(store, owner="bob@h2:2").acquire("target:user-db", "run")


def test_acquire_with_timeout_waits_for_release(store: Store) -> None:
    import threading

    holder = Locker(store, owner="alice@h1:1")
    lock, _ = holder.acquire("setright:apply", "apply")
    other_store = Store.open(store.url, clock=store.clock)
    timer = threading.Timer(0.3, lambda: Locker(other_store).release(lock.lock_id))
    timer.start()
    got, _ = Locker(store, owner="bob@h2:2").acquire("setright:apply", "apply", timeout=5)
    timer.join()
    other_store.close()
    assert got.owner == "bob@h2:2"


def test_release_by_id_and_unknown_id(store: Store) -> None:
    locker = Locker(store, owner="alice@h1:1")
    lock, _ = locker.acquire("target:user-db", "run")
    assert locker.release(lock.lock_id) == lock
    assert locker.list() == []
    with pytest.raises(UnknownId, match="no lock with ID"):
        locker.release(lock.lock_id)


def test_release_own_refuses_another_owners_live_lock(store: Store, clock: FixedClock) -> None:
    lock, _ = Locker(store, owner="alice@h1:1").acquire("target:user-db", "run")
    with pytest.raises(SetrightError, match="held by alice@h1:1, not by you"):
        Locker(store, owner="bob@h2:9").release_own(lock.lock_id)
    # the same user@host (a crashed process of mine) may release it
    Locker(store, owner="alice@h1:77").release_own(lock.lock_id)
    assert Locker(store).list() == []


def test_release_own_refuses_a_live_lock_of_a_process_still_running_here(
        store: Store) -> None:
    """On a shared host every operator may be deploy@bastion: a running runner's lock is
    not 'mine' because the user@host matches; a finished one's is."""
    import socket
    import subprocess
    import sys

    me = f"deploy@{socket.gethostname()}"
    runner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock, _ = Locker(store, owner=f"{me}:{runner.pid}").acquire("target:user-db", "run")
        with pytest.raises(SetrightError, match="not by you"):
            Locker(store, owner=f"{me}:1").release_own(lock.lock_id)
    finally:
        runner.kill()
        runner.wait()
    Locker(store, owner=f"{me}:1").release_own(lock.lock_id)   # its process is gone
    assert Locker(store).list() == []


def test_force_release_is_an_event(store: Store) -> None:
    lock, _ = Locker(store, owner="alice@h1:1").acquire("target:user-db", "run")
    serial = store.serial
    Locker(store, owner="bob@h2:2").force_release(lock.lock_id,
                                                  Provenance(actor="bob", source="cli"))
    assert store.serial == serial + 1
    kind, actor, meta = store.conn.execute(
        "SELECT kind, actor, metadata FROM setright_events").fetchone()
    assert (kind, actor) == ("lock_force_release", "bob")
    assert lock.lock_id in meta and "alice@h1:1" in meta


@pytest.mark.parametrize("how", ["force", "own"])
def test_releasing_a_runners_lock_by_hand_ends_its_apply_lease(store: Store, how: str) -> None:
    """The lease is the lock: released by hand, the runner's apply holds no lease either,
    while another target's apply keeps its own."""
    runner = Locker(store, ttl=60, owner=f"{default_owner()}:999999999")
    lock, _ = runner.acquire("target:user-db", "run")
    other, _ = runner.acquire("target:billing", "run")
    with store.write() as tx:
        apply_row(tx, "ap-1", "user-db", "running", lease_token=lock.lock_id,
                  lease_expires_at=lock.expires_at)
        apply_row(tx, "ap-2", "billing", "running", lease_token=other.lock_id,
                  lease_expires_at=other.expires_at)
    if how == "force":
        Locker(store, owner="bob@h2:2").force_release(lock.lock_id,
                                                      Provenance(actor="bob", source="cli"))
    else:   # a crashed run of mine: no process 999999999 runs here
        runner.release_own(lock.lock_id)
    rows = store.conn.execute(
        "SELECT id, lease_expires_at FROM setright_applies ORDER BY id").fetchall()
    assert [tuple(r) for r in rows] == [("ap-1", store.now_iso()), ("ap-2", other.expires_at)]
