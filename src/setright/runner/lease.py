"""The runner's lease: its target lock, checked before every statement and renewed every ttl/3.

The lease *is* the `target:<name>` lock (DESIGN §4.5): `lease_token` is the
lock id and `lease_expires_at` the lock's expiry. Two things keep it alive
and honest:

* `Lease.check()` runs before every statement sent to the target and at the
  start of every store write (`Lease.fence`). It reads the lock row: taken
  over or expired means `LeaseLost`, so the runner stops before its next
  statement. It renews when a third of the ttl has passed.
* `LeaseKeeper`, a daemon thread with its own store connection, renews every
  ttl/3 while a long statement runs. It writes nothing but the lock's expiry
  and the apply's `lease_expires_at`, both fenced by the lock id, and an
  expired lock is never revived (`Locker.renew_lease`), so it cannot write
  after the lease is lost. When renewal finds the lease gone it interrupts the
  running statement, whose transaction then rolls back.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from setright.errors import LeaseLost, SetrightError
from setright.store.connection import Store
from setright.store.locks import Locker, LockInfo
from setright.timeutil import Clock, iso_from_ms


class Lease:
    """One runner's hold on one target, shared by the main thread and its keeper."""

    def __init__(self, store: Store, locker: Locker, lock: LockInfo) -> None:
        self.store = store
        self.locker = locker
        self.lock = lock
        self.apply_id: str | None = None
        self.lost: str | None = None
        self._mutex = threading.Lock()

    @property
    def token(self) -> str:
        return self.lock.lock_id

    @property
    def ttl_ms(self) -> int:
        return int(self.locker.ttl * 1000)

    @property
    def expires_at(self) -> str:
        return self.lock.expires_at

    def bind(self, apply_id: str | None) -> None:
        """From now on renewals also push out this apply's `lease_expires_at`."""
        self.apply_id = apply_id

    def check(self) -> None:
        """Raise `LeaseLost` unless the lock is still ours and live; renew when due."""
        if self.lost:
            raise LeaseLost(self.lost, ["this runner stops before its next statement"])
        expires_at = self._verify(self.store.conn)
        if expires_at < iso_from_ms(self.store.now_ms() + self.ttl_ms * 2 // 3):
            self.renew()  # a third of the ttl has passed since the last renewal

    def fence(self, tx: sqlite3.Connection) -> None:
        """Inside a store write: refuse it unless the lease is still ours and live."""
        if self.lost:
            raise LeaseLost(self.lost, ["nothing was written"])
        self._verify(tx)

    def renew(self) -> None:
        with self._mutex:
            try:
                self.lock = self.locker.renew_lease(self.lock, self.apply_id)
            except LeaseLost as exc:
                self.lost = exc.message
                raise

    def _verify(self, conn: sqlite3.Connection) -> str:
        """The lock's expiry when it is still ours and live; else `LeaseLost`."""
        row = conn.execute("SELECT lock_id, owner, expires_at FROM setright_locks WHERE name = ?",
                           (self.lock.name,)).fetchone()
        now = self.store.now_ms()
        if row is None or row[0] != self.token:
            who = f" by {row[1]}" if row else ""
            self.lost = f"lease on {self.lock.name} was taken over{who}"
        elif row[2] <= iso_from_ms(now):
            self.lost = f"lease on {self.lock.name} expired at {row[2]}"
        else:
            with self._mutex:
                if row[2] > self.lock.expires_at:  # renewed by the keeper
                    self.lock = LockInfo(**{**self.lock.as_dict(), "expires_at": row[2]})
            return str(row[2])
        raise LeaseLost(self.lost, ["this runner stops before its next statement"])


class LeaseKeeper:
    """Renews a lease every ttl/3 from its own thread and store connection."""

    def __init__(self, lease: Lease, store_path: Path, audit_table: str, clock: Clock,
                 on_lost: Callable[[], None]) -> None:
        self.lease = lease
        self.store_path = store_path
        self.audit_table = audit_table
        self.clock = clock
        self.on_lost = on_lost
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="setright-lease", daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        interval = max(self.lease.locker.ttl / 3, 0.05)
        try:
            store = Store.open(self.store_path, self.audit_table, self.clock)
        except SetrightError:
            return  # the main thread's checks still renew and fence every write
        try:
            locker = Locker(store, ttl=self.lease.locker.ttl, owner=self.lease.locker.owner)
            while not self._stop.wait(interval):
                try:
                    with self.lease._mutex:
                        if self.lease.lost:
                            return
                        self.lease.lock = locker.renew_lease(self.lease.lock, self.lease.apply_id)
                except LeaseLost as exc:
                    self.lease.lost = exc.message
                    self.on_lost()
                    return
                except (SetrightError, sqlite3.Error):
                    continue  # the store is busy: try again next tick
        finally:
            store.close()
