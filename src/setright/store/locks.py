"""Named locks with expiry, stored in `setright_locks`.

A small Terraform-style locker: acquire with info, renew, release by lock id.
Acquiring inserts the row or takes over one whose `expires_at <= now`, in one
transaction. The runner's lease on an apply *is* its target lock, so there is
one clock for "is this apply alive".
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

from setright.db import Connection
from setright.errors import LeaseLost, SetrightError, UnknownId
from setright.store.connection import Store
from setright.store.transitions import Provenance, record_event
from setright.timeutil import iso_from_ms


@dataclass(frozen=True)
class LockInfo:
    name: str
    lock_id: str
    owner: str
    operation: str
    acquired_at: str
    expires_at: str
    info: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


class LockHeld(SetrightError):
    """The lock belongs to someone else; carries their Lock Info for the message."""

    def __init__(self, holder: LockInfo) -> None:
        self.holder = holder
        super().__init__(f"{holder.name} is locked by another process", lock_info_lines(holder))


def lock_info_lines(lock: LockInfo) -> list[str]:
    """Terraform's "Lock Info" block."""
    return [
        "Lock Info:",
        f"  ID:        {lock.lock_id}",
        f"  Path:      {lock.name}",
        f"  Operation: {lock.operation}",
        f"  Who:       {lock.owner}",
        f"  Created:   {lock.acquired_at}",
        f"  Expires:   {lock.expires_at}",
    ]


def _running_here(owner: str) -> bool:
    """Whether `owner` (user@host:pid) names a process still running on this host."""
    import socket

    who, _, pid = owner.rpartition(":")
    if who.rpartition("@")[2] != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True   # it exists (another user's), or the answer is unknown: keep the lock
    return True


def _end_lock(tx: Connection, lock: LockInfo, now_iso: str) -> None:
    """Delete a lock released by hand, and end the lease of the apply a runner held under it
    (the lease *is* the lock): readers then call its change lost rather than running until
    the old expiry, and a runner still alive finds its lease gone at its next check."""
    tx.execute("DELETE FROM setright_locks WHERE lock_id = ?", (lock.lock_id,))
    kind, _, target = lock.name.partition(":")
    if kind == "target":
        tx.execute("UPDATE setright_applies SET lease_expires_at = ? WHERE target = ?"
                   " AND lease_token = ? AND lease_expires_at > ?",
                   (now_iso, target, lock.lock_id, now_iso))


def default_owner() -> str:
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}:{os.getpid()}"


_FIELDS = ("name", "lock_id", "owner", "operation", "acquired_at", "expires_at", "info")
_COLUMNS = ", ".join(_FIELDS)


class Locker:
    """Acquire, renew and release locks in one store."""

    def __init__(self, store: Store, ttl: float = 60.0, owner: str | None = None) -> None:
        self.store = store
        self.ttl = ttl
        self.owner = owner or default_owner()

    def acquire(self, name: str, operation: str, *, info: str | None = None,
                take_over: bool = False, timeout: float = 0.0) -> tuple[LockInfo, LockInfo | None]:
        """Take `name`; return (our lock, the holder we took over from, if any).

        `take_over` seizes a live lock (a redrive with `force`); otherwise a live
        lock raises `LockHeld` once `timeout` seconds of retrying have passed.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._try_acquire(name, operation, info, take_over)
            except LockHeld:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def _try_acquire(self, name: str, operation: str, info: str | None,
                     take_over: bool) -> tuple[LockInfo, LockInfo | None]:
        now = self.store.now_ms()
        import secrets

        lock = LockInfo(name, secrets.token_hex(8), self.owner, operation, iso_from_ms(now),
                        iso_from_ms(now + int(self.ttl * 1000)), info)
        with self.store.write(state=False) as tx:
            holder = self._get(tx, name)
            if holder is not None and holder.expires_at > iso_from_ms(now) and not take_over:
                raise LockHeld(holder)
            tx.execute(
                self.store.impl.upsert_sql("setright_locks", _FIELDS, ("name",)),
                (lock.name, lock.lock_id, lock.owner, lock.operation, lock.acquired_at,
                 lock.expires_at, lock.info),
            )
        return lock, holder

    def renew(self, lock: LockInfo) -> LockInfo:
        """Push the expiry out by one ttl; `LeaseLost` if the lock is no longer ours."""
        with self.store.write(state=False) as tx:
            expires = iso_from_ms(self.store.now_ms() + int(self.ttl * 1000))
            touched = tx.execute(
                "UPDATE setright_locks SET expires_at = ? WHERE name = ? AND lock_id = ?",
                (expires, lock.name, lock.lock_id),
            ).rowcount
        if touched != 1:
            raise LeaseLost(f"lock {lock.name} ({lock.lock_id}) is no longer held by this process")
        return LockInfo(**{**lock.as_dict(), "expires_at": expires})

    def renew_lease(self, lock: LockInfo, apply_id: str | None) -> LockInfo:
        """Renew a runner's target lock and its apply's `lease_expires_at` in one transaction.

        Unlike `renew`, an expired lock is never revived: from its expiry on,
        another runner may take the target and reap the apply, so the old
        holder must stop rather than carry on as if nothing happened.
        """
        with self.store.write(state=False) as tx:
            # The time is read once the write lock is ours: waiting for a busy store
            # must neither shorten the new expiry nor make an expired row look live.
            now = self.store.now_ms()
            expires = iso_from_ms(now + int(self.ttl * 1000))
            touched = tx.execute(
                "UPDATE setright_locks SET expires_at = ? WHERE name = ? AND lock_id = ?"
                " AND expires_at > ?", (expires, lock.name, lock.lock_id, iso_from_ms(now)),
            ).rowcount
            if touched != 1:
                raise LeaseLost(f"lease {lock.name} ({lock.lock_id}) expired or was taken over",
                                ["this runner stops before its next statement"])
            if apply_id is not None:
                tx.execute("UPDATE setright_applies SET lease_expires_at = ?"
                           " WHERE id = ? AND lease_token = ?", (expires, apply_id, lock.lock_id))
        return LockInfo(**{**lock.as_dict(), "expires_at": expires})

    def release(self, lock_id: str) -> LockInfo:
        """Release by the owner's lock id (the normal way out)."""
        with self.store.write(state=False) as tx:
            lock = self._by_id(tx, lock_id)
            tx.execute("DELETE FROM setright_locks WHERE lock_id = ?", (lock_id,))
        return lock

    def release_own(self, lock_id: str) -> LockInfo:
        """`lock release ID`: only an expired lock, or one held from this user@host by a
        process that is gone (a crashed run of mine).

        A live lock of another owner, or of a process of this user@host still running
        here, needs `--force`, which is recorded as an event.
        """
        with self.store.write(state=False) as tx:
            lock = self._by_id(tx, lock_id)
            mine = (lock.owner.rsplit(":", 1)[0] == self.owner.rsplit(":", 1)[0]
                    and not _running_here(lock.owner))
            if not mine and lock.expires_at > self.store.now_iso():
                raise SetrightError(
                    f"lock {lock_id} is held by {lock.owner}, not by you",
                    [*lock_info_lines(lock), "use --force to release it anyway (recorded)"],
                )
            _end_lock(tx, lock, self.store.now_iso())
        return lock

    def release_quietly(self, lock: LockInfo) -> None:
        """Release our own lock if we still hold it. A cleanup path must not raise: where
        the store cannot be written (its connection broken by an interrupt), the lock is
        left to expire after its ttl."""
        try:
            with self.store.write(state=False) as tx:
                tx.execute("DELETE FROM setright_locks WHERE name = ? AND lock_id = ?",
                           (lock.name, lock.lock_id))
        except Exception:  # noqa: BLE001 - see the docstring
            pass

    def force_release(self, lock_id: str, prov: Provenance) -> LockInfo:
        """Release whoever holds it; recorded as an event (`lock release --force`)."""
        with self.store.write() as tx:
            lock, now = self._by_id(tx, lock_id), self.store.now_iso()
            _end_lock(tx, lock, now)
            record_event(tx, at=now, kind="lock_force_release", prov=prov,
                         old_state="held", new_state="released", extra=lock.as_dict())
        return lock

    def list(self) -> list[LockInfo]:
        rows = self.store.conn.execute(f"SELECT {_COLUMNS} FROM setright_locks ORDER BY name")
        return [LockInfo(*row) for row in rows]

    def holder(self, name: str) -> LockInfo | None:
        """The live holder of `name`, if any (an expired row counts as free)."""
        lock = self._get(self.store.conn, name)
        if lock is None or lock.expires_at <= self.store.now_iso():
            return None
        return lock

    @staticmethod
    def _get(conn: Connection, name: str) -> LockInfo | None:
        row = conn.execute(f"SELECT {_COLUMNS} FROM setright_locks WHERE name = ?",
                           (name,)).fetchone()
        return LockInfo(*row) if row else None

    @staticmethod
    def _by_id(conn: Connection, lock_id: str) -> LockInfo:
        row = conn.execute(f"SELECT {_COLUMNS} FROM setright_locks WHERE lock_id = ?",
                           (lock_id,)).fetchone()
        if row is None:
            raise UnknownId(f"no lock with ID {lock_id!r}", ["see 'setright lock list'"])
        return LockInfo(*row)
