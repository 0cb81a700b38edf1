"""A MySQL/MariaDB change target: markers, the runner fence, statements.

The same two tables as on SQLite (`setright_markers`, `setright_runner_fence`)
live in the target database. What MySQL changes:

* **DDL commits implicitly** — before and after the statement, taking every
  earlier statement of the transaction with it; no ROLLBACK undoes it. So do
  GRANT, ANALYZE TABLE and the rest of `commits_implicitly`. The transaction
  notices where the server says so (its in-transaction flag drops), records
  `implicit_commits`, and reopens a transaction with the fence re-checked, so
  the marker that follows is still fenced and atomic with any later
  statements. Another statement that commits is refused after the fact with a
  message that says its work is committed. The runner treats a change holding
  any such statement as non-transactional (`commits_implicitly`, warned at
  load): one statement, one marker, one commit at a time.
* **The fence cannot be atomic with DDL**, so the runner also holds a session
  lock (`session_lock`, `GET_LOCK`) for the whole apply; a second runner waits
  up to its timeout and is then refused.
* **A crash between a DDL statement and its marker** is settled from
  `information_schema` (`settle_ddl`): True when the statement's effect is
  there, False when it is not, None ("unknown") for anything but CREATE/DROP
  TABLE, ADD/DROP COLUMN and CREATE/DROP INDEX.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from setright.db.mysql import MysqlConnection, MysqlImpl, connect_raw, table_options
from setright.db.mysql_lex import DdlEffect, commits_implicitly, ddl_effect, split_statements
from setright.db.settled import ATOMIC, LockSession, Settled, session_lock_info
from setright.db.url import DbUrl
from setright.errors import LeaseLost, SetrightError, StatementFailed, TargetBusy, TargetError

#: completed with `mysql.table_options` (the server's exact collation)
MARKERS_DDL = (
    "CREATE TABLE IF NOT EXISTS setright_markers ("
    " apply_id VARCHAR(255) NOT NULL, change_id VARCHAR(255) NOT NULL, seq BIGINT NOT NULL,"
    " committed_at VARCHAR(64) NOT NULL, PRIMARY KEY (apply_id, change_id, seq))"
)
FENCE_DDL = (
    "CREATE TABLE IF NOT EXISTS setright_runner_fence ("
    " id INT NOT NULL PRIMARY KEY CHECK (id = 1), lock_id VARCHAR(255) NOT NULL,"
    " owner VARCHAR(255), claimed_at VARCHAR(64))"
)


class TargetLocked(TargetBusy):
    """Another runner holds the target's session lock."""


def _failed(exc: BaseException) -> StatementFailed:
    code = exc.args[0] if exc.args else ""
    text = exc.args[1] if len(exc.args) > 1 else str(exc)
    return StatementFailed(f"{type(exc).__name__} {code}: {text}")


class MysqlTransaction:
    """One fenced target transaction; reopened (fence re-checked) after an implicit commit."""

    def __init__(self, target: MysqlTarget, lock_id: str) -> None:
        self.target = target
        self.conn = target.conn
        self.lock_id = lock_id
        self.implicit_commits = 0

    def start(self) -> None:
        try:
            self.conn.execute("START TRANSACTION")
            row = self.conn.execute(
                "SELECT lock_id FROM setright_runner_fence WHERE id = 1 FOR UPDATE").fetchone()
        except Exception as exc:
            if not self.target.impl.is_error(exc):
                raise
            raise StatementFailed(f"cannot begin a transaction: {_failed(exc).message}") from None
        if row is None or row[0] != self.lock_id:
            raise LeaseLost(f"target {self.target.name} was claimed by another runner",
                            ["this runner's lease is gone; it wrote nothing more to the target"])

    def execute(self, sql: str) -> None:
        for statement in split_statements(sql):
            try:
                self.conn.execute(statement)
            except Exception as exc:
                if not self.target.impl.is_error(exc):
                    raise
                failed = _failed(exc)
                if self.implicit_commits:  # what came before committed: say so, never "undone"
                    failed = StatementFailed(
                        f"{failed.message} (the DDL before it in this operation committed "
                        "implicitly and stays)")
                raise failed from None
            if not self.conn.in_transaction:
                self.implicit_commits += 1
                if not commits_implicitly(statement):
                    raise StatementFailed(
                        "the statement ended the runner's transaction (an implicit commit):"
                        " it and every statement before it are committed")
                self.start()

    def add_marker(self, apply_id: str, change_id: str, seq: int, committed_at: str) -> None:
        try:
            self.conn.execute(
                "INSERT INTO setright_markers (apply_id, change_id, seq, committed_at)"
                " VALUES (?, ?, ?, ?)", (apply_id, change_id, seq, committed_at))
        except Exception as exc:
            if self.target.impl.is_integrity_error(exc):
                raise StatementFailed(
                    f"marker for operation {seq} of {change_id} in {apply_id} already exists:"
                    " the operation committed before") from None
            if not self.target.impl.is_error(exc):
                raise
            raise StatementFailed(f"cannot write marker: {_failed(exc).message}") from None

    def delete_markers(self, apply_id: str, change_id: str) -> int:
        return int(self.conn.execute(
            "DELETE FROM setright_markers WHERE apply_id = ? AND change_id = ?",
            (apply_id, change_id)).rowcount)


class MysqlTarget:
    """A MySQL/MariaDB database that changes are applied to."""

    def __init__(self, name: str, url: DbUrl, conn: MysqlConnection) -> None:
        self.name = name
        self.url = url
        self.location = url.where
        self.conn = conn
        self.impl = MysqlImpl()
        self.session_locks: list[str] = []

    @classmethod
    def open(cls, name: str, url: DbUrl, *, create: bool = False,
             read_only: bool = False) -> MysqlTarget:
        """Connect; writers create the marker and fence tables (readers never write)."""
        impl = MysqlImpl()
        try:
            conn = impl.connect(url, read_only=read_only, create=create, target=True)
        except SetrightError as exc:
            raise TargetError(f"target {name}: {exc.message}") from None
        if not read_only:
            try:
                options = table_options(conn.exact_collation)
                conn.execute(MARKERS_DDL + options)
                conn.execute(FENCE_DDL + options)
            except Exception as exc:
                conn.close()
                if not impl.is_error(exc):
                    raise
                raise TargetError(f"target {name}: cannot create setright's tables in "
                                  f"{url.where}: {_failed(exc).message}") from None
        return cls(name, url, conn)

    # -- the fence ------------------------------------------------------------

    def claim(self, lock_id: str, owner: str, at: str) -> None:
        """Take the fence; waits (up to the lock wait timeout) for a fenced transaction."""
        try:
            self.conn.execute("START TRANSACTION")
            self.conn.execute(
                "INSERT INTO setright_runner_fence (id, lock_id, owner, claimed_at)"
                " VALUES (1, ?, ?, ?) ON DUPLICATE KEY UPDATE lock_id = VALUES(lock_id),"
                " owner = VALUES(owner), claimed_at = VALUES(claimed_at)", (lock_id, owner, at))
            self.conn.execute("COMMIT")
        except Exception as exc:
            self._rollback()
            if not self.impl.is_error(exc):
                raise
            raise TargetError(f"target {self.name}: cannot claim {self.location}: "
                              f"{_failed(exc).message}") from None

    @contextmanager
    def transaction(self, lock_id: str) -> Iterator[MysqlTransaction]:
        """START TRANSACTION, the fence row read FOR UPDATE, yield; COMMIT, or ROLLBACK."""
        tx = MysqlTransaction(self, lock_id)
        try:
            tx.start()
            yield tx
            try:
                self.conn.execute("COMMIT")
            except Exception as exc:
                if not self.impl.is_error(exc):
                    raise
                raise StatementFailed(f"COMMIT failed: {_failed(exc).message}") from None
        except BaseException:
            self._rollback()
            raise

    def latest_apply_id(self) -> str | None:
        """The apply of the newest marker (apply ids grow with time); None also where no
        runner made the marker table yet (read-only)."""
        if not self.impl.table_exists(self.conn, "setright_markers"):
            return None
        row = self.conn.execute("SELECT max(apply_id) FROM setright_markers").fetchone()
        return row[0] if row else None

    def markers(self, apply_id: str, change_id: str) -> set[int]:
        if not self.impl.table_exists(self.conn, "setright_markers"):
            return set()
        rows = self.conn.execute(
            "SELECT seq FROM setright_markers WHERE apply_id = ? AND change_id = ?",
            (apply_id, change_id))
        return {int(r[0]) for r in rows}

    # -- the session lock -------------------------------------------------------

    def lock_name(self) -> str:
        """One name per target database, whatever the target is called in setright.yaml."""
        name = f"setright.apply:{self.url.host}:{self.url.port}/{self.url.database}"
        return name if len(name) <= 64 else "setright.apply:" + hashlib.sha1(
            name.encode()).hexdigest()

    def acquire_session_lock(self, timeout: float, name: str | None = None) -> None:
        """`GET_LOCK` on this session: held until released or the connection ends."""
        name = name or self.lock_name()
        got = self.conn.execute("SELECT GET_LOCK(?, ?)",
                                (name, max(0, math.ceil(timeout)))).fetchone()[0]
        if got != 1:
            raise TargetLocked(f"target {self.name} is being changed by another runner",
                               session_lock_info(self.conn, name if self.location in name
                                                 else f"{name} in {self.location}",
                                                 f"held by {self._holder(name)}; "
                                                 f"waited {timeout:g}s"))
        self.session_locks.append(name)

    def release_session_lock(self, name: str | None = None) -> None:
        name = name or self.lock_name()
        if name in self.session_locks:
            self.session_locks.remove(name)
            self.conn.execute("DO RELEASE_LOCK(?)", (name,))

    @contextmanager
    def session_lock(self, timeout: float, name: str | None = None) -> Iterator[None]:
        self.acquire_session_lock(timeout, name)
        try:
            yield
        finally:
            self.release_session_lock(name)

    def session_holder(self) -> LockSession | None:
        """The other connection holding the runner's session lock, if any."""
        row = self.conn.execute("SELECT IS_USED_LOCK(?), CONNECTION_ID()",
                                (self.lock_name(),)).fetchone()
        if row is None or row[0] is None or row[0] == row[1]:
            return None
        return LockSession(f"MySQL {self._holder(self.lock_name())}", f"KILL {int(row[0])}")

    def _holder(self, name: str) -> str:
        row = self.conn.execute("SELECT IS_USED_LOCK(?)", (name,)).fetchone()
        if not row or row[0] is None:
            return "a session that has just released it"
        who = self.conn.execute("SELECT USER, HOST FROM information_schema.PROCESSLIST"
                                " WHERE ID = ?", (row[0],)).fetchone()
        return f"connection {row[0]}" + (f" ({who[0]}@{who[1]})" if who else "")

    # -- DDL and crashes ----------------------------------------------------------

    def settle_ddl(self, effect: DdlEffect | None) -> bool | None:
        """Is `effect` in the catalog now? True/False, or None when it cannot be told."""
        if effect is None:
            return None
        schema = effect.schema or self.url.database or ""
        table = self._table_exists(schema, effect.table)
        if effect.kind == "create_table":
            return table
        if effect.kind == "drop_table":
            return not table
        if effect.kind in ("add_column", "create_index"):
            return table and self._has(effect.kind, schema, effect.table, effect.name or "")
        if effect.kind in ("drop_column", "drop_index"):
            if not table:
                return None  # the table went too: nothing says what the statement did
            kind = "add_column" if effect.kind == "drop_column" else "create_index"
            return not self._has(kind, schema, effect.table, effect.name or "")
        return None

    def _table_exists(self, schema: str, table: str) -> bool:
        return any(self.impl._same_table(self.conn, row[0], table) for row in self.conn.execute(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?"
            " AND TABLE_NAME = ?", (schema, table)))

    def _has(self, kind: str, schema: str, table: str, name: str) -> bool:
        catalog, column = (("COLUMNS", "COLUMN_NAME") if kind == "add_column"
                           else ("STATISTICS", "INDEX_NAME"))
        return any(self.impl._same_table(self.conn, row[0], table) for row in self.conn.execute(
            f"SELECT TABLE_NAME FROM information_schema.{catalog} WHERE TABLE_SCHEMA = ?"
            f" AND TABLE_NAME = ? AND {column} = ?", (schema, table, name)))

    # -- what the runner asks of a server target ----------------------------------

    def hold_session_lock(self, timeout: float) -> None:
        """`GET_LOCK` for the whole apply (until `close`); `TargetLocked` after `timeout`."""
        self.acquire_session_lock(timeout)

    def runs_alone(self, sql: str) -> bool:
        """Nothing is refused inside a transaction; DDL commits the transaction instead."""
        return False

    def execute_alone(self, sql: str, lock_id: str) -> None:
        raise StatementFailed("MySQL runs every operation inside the runner's transaction")

    def settle_unmarked(self, sql: str) -> Settled:
        """For an operation whose marker is missing: without DDL it committed with its
        marker or not at all; one DDL statement is settled from information_schema when
        `ddl_effect` knows it; anything else is unknown."""
        statements = split_statements(sql)
        if not any(commits_implicitly(s) for s in statements):
            return ATOMIC
        effect = ddl_effect(statements[0]) if len(statements) == 1 else None
        found = self.settle_ddl(effect)
        if effect is None or found is None:
            return Settled(None, "DDL commits implicitly and information_schema cannot tell "
                                 "whether this statement took effect")
        what = effect.kind.replace("_", " ") + f" {effect.table}" + (
            f".{effect.name}" if effect.name else "")
        return Settled(found, f"information_schema shows {what} "
                              f"{'took effect' if found else 'did not take effect'}")

    def failure_note(self, sql: str) -> str | None:
        """A failed DDL statement committed nothing of its own (MySQL DDL is atomic)."""
        return None

    def schema_snapshot(self) -> dict[str, Any]:
        return self.impl.schema_snapshot(self.conn)

    # -- interrupting and closing ---------------------------------------------

    def interrupt(self) -> None:
        """Abort the statement running now (thread-safe: `KILL QUERY` from a second session)."""
        other = connect_raw(self.url, database=self.url.database, read_timeout=10)
        try:
            other.cursor().execute(f"KILL QUERY {int(self.conn.thread_id())}")
        finally:
            other.close()

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except Exception:  # noqa: BLE001 - the connection is already unusable
                pass

    def close(self) -> None:
        self.conn.close()
