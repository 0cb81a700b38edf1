"""Target databases the runner applies changes to, behind a small interface.

The runner only ever talks to a `Target`: open a fenced transaction, execute
statements, write and read markers. `open_target` picks the implementation
from the URL's dialect; the classes live in the seam, one per database
(`db/sqlite_target.py` beside `db/postgres_target.py` and `db/mysql_target.py`),
so a new database is one more class and one more branch here, with no change
to the runner's logic. `target_impl` gives change loading the dialect's
statement splitter.

What differs on servers: PostgreSQL refuses some statements inside a
transaction (`CREATE INDEX CONCURRENTLY`, `VACUUM`…) and MySQL commits every DDL
statement implicitly, so there an operation and its marker cannot always commit
together. The runner then holds a session lock on the target for the whole
apply (`hold_session_lock`), writes the marker right after the statement, and
a crash in between is settled from the catalog (`settle_unmarked`).

Two setright tables live in every target:

* `setright_markers(apply_id, change_id, seq, committed_at)`: one row per
  operation, written in the same target transaction as the operation, so
  after a crash the markers say exactly what committed.
* `setright_runner_fence(id = 1, lock_id, owner, claimed_at)`: the fencing
  token. A runner writes its target-lock id here when it takes the target
  lock (`claim`), and every runner transaction first checks the row still
  holds its id, under the target's own write lock. A runner paused past its
  lease therefore cannot commit anything once another runner has claimed
  the target, even if it resumes between a lease check and its COMMIT.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from setright.config import TargetConfig
from setright.db import DbUrl, DefaultImpl, impl_for, sqlite_target
from setright.db.settled import LockSession, Settled
from setright.db.sqlite_target import SqliteTarget
from setright.errors import StatementFailed, TargetBusy, TargetError
from setright.redact import mask_password

# Re-exported: callers catch these from here; they live in errors.py so db/ needs no runner/.
__all__ = ["Settled", "SqliteTarget", "StatementFailed", "Target", "TargetBusy", "TargetError",
           "TargetTransaction",
           "open_target", "read_markers", "session_holder", "target_exists", "target_impl",
           "target_url"]


class TargetTransaction(Protocol):
    """One open, fenced target transaction."""

    def execute(self, sql: str) -> None:
        """Run one operation (a step may hold several statements); `StatementFailed` on error."""

    def add_marker(self, apply_id: str, change_id: str, seq: int, committed_at: str) -> None: ...
    def delete_markers(self, apply_id: str, change_id: str) -> int: ...


class Target(Protocol):
    """What the runner needs from a target database."""

    name: str
    location: str

    def claim(self, lock_id: str, owner: str, at: str) -> None:
        """Record `lock_id` as the only runner allowed to commit here."""

    def transaction(self, lock_id: str) -> AbstractContextManager[TargetTransaction]:
        """A transaction that refuses to start unless `lock_id` holds the fence."""

    def markers(self, apply_id: str, change_id: str) -> set[int]: ...

    def latest_apply_id(self) -> str | None:
        """The apply that wrote the newest marker here, if any."""

    def hold_session_lock(self, timeout: float) -> None:
        """Keep every other runner out of this database until `close` (PostgreSQL's
        advisory lock, MySQL's `GET_LOCK`; nothing on SQLite); `TargetBusy` after
        `timeout` seconds. Needed where a statement commits outside the fenced
        transaction, so the fence alone cannot keep a second runner out."""

    def session_holder(self) -> LockSession | None:
        """Another database session holding that lock (None on SQLite): a runner killed
        mid-statement leaves its session running the statement until it ends."""

    def runs_alone(self, sql: str) -> bool:
        """Whether the operation must run outside a transaction (then `execute_alone`,
        and its marker follows in a transaction of its own)."""

    def execute_alone(self, sql: str, lock_id: str) -> None: ...

    def settle_unmarked(self, sql: str) -> Settled:
        """After a crash: did the operation after the last marker take effect?"""

    def failure_note(self, sql: str) -> str | None:
        """What a failed operation left behind outside any transaction, if anything."""
    def schema_snapshot(self) -> dict[str, Any]:
        """Tables, columns, indexes, constraints, views, triggers; setright's tables left out."""

    def interrupt(self) -> None: ...
    def close(self) -> None: ...


def target_url(config: TargetConfig) -> DbUrl | None:
    """The target's parsed URL (parsed once, when the configuration was loaded)."""
    return config.db_url


def target_impl(config: TargetConfig) -> DefaultImpl:
    """The seam's implementation for the target's dialect (how its scripts are split)."""
    url = target_url(config)
    if url is None:
        raise _unsupported(config)
    return impl_for(url)


def open_target(config: TargetConfig, *, create: bool, readonly: bool = False) -> Target:
    """Open the target named in setright.yaml, by its URL's dialect.

    `create=False` refuses a SQLite file that does not exist, so a typo in a
    URL cannot silently run every change into a new empty database; a server
    database is never created (an unknown one is a `TargetError` naming the
    host and database). `readonly=True` is for read commands: a connection
    that never creates the database or setright's tables in it, and refuses to
    claim or write.
    """
    url = target_url(config)
    if url is None:
        raise _unsupported(config)
    if url.is_sqlite:
        assert url.path is not None
        if readonly:
            return SqliteTarget.open_readonly(config.name, url.path)
        return SqliteTarget.open(config.name, url.path, create=create)
    if url.dialect == "postgresql":
        from setright.db.postgres_target import PostgresTarget

        return PostgresTarget.open(config.name, url, read_only=readonly)
    if url.dialect == "mysql":
        from setright.db.mysql_target import MysqlTarget

        return MysqlTarget.open(config.name, url, read_only=readonly)
    raise _unsupported(config)


def target_exists(config: TargetConfig) -> bool:
    url = target_url(config)
    if url is not None and url.is_sqlite:
        assert url.path is not None
        return SqliteTarget.exists(url.path)
    return True  # a server database: existence is checked by connecting


def read_markers(config: TargetConfig, apply_id: str, change_id: str) -> list[int]:
    """The committed operations of one task, read without writing or creating anything.

    For readers (`issue get`) that must settle an in-flight task before any
    runner reaped it. A markers table that does not exist means no marker; a
    SQLite file that does not exist, an unreachable server or a missing database is a
    `TargetError` (the caller then shows the store's rows), never created.
    """
    url = target_url(config)
    if url is not None and url.is_sqlite:
        assert url.path is not None
        return sqlite_target.read_markers(config.name, url.path, apply_id, change_id)
    if url is not None and url.dialect in ("postgresql", "mysql"):
        target = open_target(config, create=False, readonly=True)
        try:
            return sorted(target.markers(apply_id, change_id))
        except Exception as exc:  # noqa: BLE001 - any driver error: the target cannot say
            raise TargetError(f"target {config.name}: cannot read markers in "
                              f"{url.where}: {type(exc).__name__}") from None
        finally:
            target.close()
    raise TargetError(f"target {config.name}: unsupported URL {_text(config)!r}")


def session_holder(config: TargetConfig) -> LockSession | None:
    """Who holds the runner's session lock on a server target, read-only (None on SQLite,
    where a killed runner's transaction ends with its process); `TargetError` if the
    target cannot be reached."""
    url = target_url(config)
    if url is None or url.is_sqlite:
        return None
    target = open_target(config, create=False, readonly=True)
    try:
        return target.session_holder()
    finally:
        target.close()


def _unsupported(config: TargetConfig) -> TargetError:
    return TargetError(f"target {config.name}: unsupported URL {_text(config)!r}",
                       ["supported: sqlite:///path, postgresql://…, mysql://… (or mariadb://…)"])


def _text(config: TargetConfig) -> str:
    url = config.url
    return url.shown if isinstance(url, DbUrl) else mask_password(url)
