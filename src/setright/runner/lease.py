"""The runner's lease: its target lock, checked before every statement and renewed every ttl/3.

The lease *is* the `target:<name>` lock: `lease_token` is the
lock id and `lease_expires_at` the lock's expiry. A lease is lost only when
its holder really stopped renewing: the lock row was taken over, or its
`expires_at` passed without a successful renewal by us. Every verdict is
read from the lock row, never from a local guess.

* `Lease.check()` runs before every statement sent to the target and at the
  start of every store write (`Lease.fence`). It reads the lock row: taken
  over or expired means `LeaseLost`, so the runner stops before its next
  statement. It renews when a third of the ttl has passed. A store write's
  fence reads the same row: the first check after it, with no target
  statement in between, takes that verdict (a row read a moment before)
  instead of reading the row again, unless its expiry is due for renewal.
* `LeaseKeeper`, a daemon thread with its own store connection, renews every
  ttl/3 while a long statement runs, retrying a busy store until it gets
  through (or the row has expired). It writes nothing but the lock's expiry
  and the apply's `lease_expires_at`, both fenced by the lock id, and an
  expired lock is never revived (`Locker.renew_lease`), so it cannot write
  after the lease is lost. When renewal finds the lease gone it interrupts the
  running statement, whose transaction then rolls back.

The in-process mutex guards only the in-memory copy of the lock row and is
never held while waiting for the store: the main thread takes it inside its
store transactions (`fence`), so a keeper holding it while it waited for the
store's write lock would deadlock with the main thread until the busy timeout
(5 s, longer than a short ttl) gave up — and the lease expired unrenewed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from setright.db import Connection
from setright.db import DbUrl
from setright.errors import LeaseLost, SetrightError, StoreError
from setright.store.connection import Store
from setright.store.locks import Locker, LockInfo
from setright.timeutil import Clock, iso_from_ms, ms_from_any

#: how soon the keeper tries again after a renewal found the store busy
_BUSY_RETRY_S = 0.02


class Lease:
    """One runner's hold on one target, shared by the main thread and its keeper."""

    def __init__(self, store: Store, locker: Locker, lock: LockInfo) -> None:
        self.store = store
        self.locker = locker
        self.lock = lock
        self.apply_id: str | None = None
        self.lost: str | None = None
        self._mutex = threading.Lock()
        #: the last expiry read from the lock row and its epoch ms (`_compare`)
        self._expiry: tuple[str, int | None] = ("", None)
        #: the expiry a store write's fence read since the last check (`check` takes it)
        self._fenced: str | None = None

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

    def check(self) -> int:
        """Raise `LeaseLost` unless the lock is still ours and live; renew when due.
        Returns the time (epoch ms) it was judged at: a caller needing "now" asks no more."""
        if self.lost:
            raise LeaseLost(self.lost, ["this runner stops before its next statement"])
        fenced, self._fenced = self._fenced, None
        if fenced is not None:   # the row as the store write just before read it
            now = self.store.now_ms()
            if self._compare(fenced, now + self.ttl_ms * 2 // 3) >= 0:
                return now
        expires_at, now, _ = self._verify(self.store.conn)
        if self._compare(expires_at, now + self.ttl_ms * 2 // 3) < 0:
            # A third of the ttl has passed since the last renewal. A busy store is no
            # verdict: the row was live a moment ago, and the keeper and the next check
            # renew again; only the row itself can say the lease is gone.
            try:
                self.renew()
            except StoreError:
                pass
        return now

    def fence(self, tx: Connection) -> int:
        """Inside a store write: refuse it unless the lease is still ours and live. Returns
        the time (epoch ms) it was judged at, the moment of the write's rows."""
        return self.fence_reading(tx)[0]

    def fence_reading(self, tx: Connection, scalar: str = "NULL") -> tuple[int, object]:
        """`fence`, also reading the scalar subquery `scalar` in the same statement (the
        write's other first read, without a round trip of its own): (moment, its value)."""
        if self.lost:
            raise LeaseLost(self.lost, ["nothing was written"])
        self._fenced = None
        expires_at, now, value = self._verify(tx, scalar)
        self._fenced = expires_at
        return now, value

    def renew(self) -> None:
        """Renew from this thread's store connection; `LeaseLost` once the row is gone or expired."""
        try:
            lock = self.locker.renew_lease(self.lock, self.apply_id)
        except LeaseLost as exc:
            self.lost = exc.message
            raise
        self.adopt(lock.expires_at)

    def adopt(self, expires_at: str) -> None:
        """Remember a later expiry of our lock row (renewed by us or by the keeper)."""
        with self._mutex:  # held for this swap only, never across a store call
            if expires_at > self.lock.expires_at:
                self.lock = LockInfo(**{**self.lock.as_dict(), "expires_at": expires_at})

    def _verify(self, conn: Connection, scalar: str = "NULL") -> tuple[str, int, object]:
        """The lock's expiry, the time it was judged at and the value of `scalar` (a scalar
        subquery read along), when the lock is still ours and live; else `LeaseLost`."""
        row = conn.execute("SELECT lock_id, owner, expires_at, " + scalar +
                           " FROM setright_locks WHERE name = ?", (self.lock.name,)).fetchone()
        now = self.store.now_ms()
        if row is None:
            self.lost = (f"lease on {self.lock.name} is gone: another process took the lock"
                         " over and has released it")
        elif row[0] != self.token:
            self.lost = f"lease on {self.lock.name} was taken over by {row[1]}"
        elif self._compare(str(row[2]), now) > 0:
            if row[2] != self.lock.expires_at:
                self.adopt(str(row[2]))
            return str(row[2]), now, row[3]
        else:
            self.lost = f"lease on {self.lock.name} expired at {row[2]}"
        raise LeaseLost(self.lost, ["this runner stops before its next statement"])

    def _compare(self, expires_at: str, ms: int) -> int:
        """-1, 0 or 1 as `expires_at` is before, at or after `iso_from_ms(ms)`, without
        formatting a time per check: the lock row's expiry is parsed once per value it
        takes. An expiry not in the form `iso_from_ms` writes is compared as text."""
        text, parsed = self._expiry
        if text != expires_at:
            value = ms_from_any(expires_at)
            parsed = value if value is not None and iso_from_ms(value) == expires_at else None
            self._expiry = (expires_at, parsed)
        if parsed is not None:
            return (parsed > ms) - (parsed < ms)
        other = iso_from_ms(ms)
        return (expires_at > other) - (expires_at < other)


class LeaseKeeper:
    """Renews a lease every ttl/3 from its own thread and store connection."""

    def __init__(self, lease: Lease, store_path: DbUrl | Path, audit_table: str, clock: Clock,
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
        store = self._open(interval)
        if store is None:
            return  # stopped, or no store: the main thread's checks still renew and fence
        try:
            locker = Locker(store, ttl=self.lease.locker.ttl, owner=self.lease.locker.owner)
            while not self._stop.wait(interval):
                if not self._renew(locker):
                    return
        finally:
            store.close()

    def _open(self, interval: float) -> Store | None:
        """This thread's own store connection (a busy store is retried, not given up on)."""
        for _ in range(10):
            try:
                return Store.open(self.store_path, self.audit_table, self.clock)
            except SetrightError:
                if self._stop.wait(interval):
                    return None
        return None

    def _renew(self, locker: Locker) -> bool:
        """One renewal, retrying a busy store until it commits or the lock row says we lost.

        Returns False when the lease is lost (the running statement is then
        interrupted) or the keeper is stopped.
        """
        while not self.lease.lost:
            try:
                lock = locker.renew_lease(self.lease.lock, self.lease.apply_id)
            except LeaseLost as exc:
                self.lease.lost = exc.message
                self.on_lost()
                return False
            except Exception as exc:
                if not (isinstance(exc, SetrightError) or locker.store.impl.is_error(exc)):
                    raise
                # "database is locked": another writer holds the store. Not a verdict;
                # try again at once (the row's expiry, read in the renewal, decides).
                if self._stop.wait(_BUSY_RETRY_S):
                    return False
                continue
            self.lease.adopt(lock.expires_at)
            return True
        return False

