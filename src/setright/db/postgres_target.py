"""A PostgreSQL database as a runner target: markers, the fence, and statements that
cannot run in a transaction.

The same two setright tables as on SQLite live in the target's current schema:
`setright_markers` (one row per committed operation, written in the operation's own
transaction) and `setright_runner_fence` (the lock id of the one runner allowed to
commit). Each `transaction(lock_id)` first reads the fence row `FOR UPDATE`: a runner
that claims the target meanwhile (`claim` updates that row) waits for this transaction,
and a runner whose lock id is no longer there commits nothing.

PostgreSQL DDL is transactional, so a failing transactional change leaves nothing behind,
schema included. Statements PostgreSQL refuses inside a transaction
(`postgres_lexer.needs_autocommit`: `CREATE INDEX CONCURRENTLY`, `VACUUM`…) run through
`execute_autocommit`, and the runner writes their marker right after, in a transaction of
its own. The fence cannot be atomic with such a statement, so the runner also holds a
session advisory lock on the target (`session_lock`) for the whole apply; a crash between
the statement and its marker is settled from the catalog (`index_is_valid`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from setright.db.postgres import SESSION_LOCK_CLASS, PostgresImpl, fold
from setright.db.postgres_conn import PgConnection
from setright.db.postgres_lexer import concurrent_index
from setright.db.settled import ATOMIC, LockSession, Settled, session_lock_info
from setright.db.url import DbUrl
from setright.errors import LeaseLost, StatementFailed, TargetBusy, TargetError

MARKERS_DDL = (
    "CREATE TABLE IF NOT EXISTS setright_markers ("
    " apply_id TEXT NOT NULL, change_id TEXT NOT NULL, seq BIGINT NOT NULL,"
    " committed_at TEXT NOT NULL, PRIMARY KEY (apply_id, change_id, seq))"
)
FENCE_DDL = (
    "CREATE TABLE IF NOT EXISTS setright_runner_fence ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), lock_id TEXT NOT NULL, owner TEXT,"
    " claimed_at TEXT)"
)


def _failure(exc: BaseException) -> str:
    """`ClassName: message` in one line, like the SQLite target's messages (the server's
    primary message and detail, without psycopg's `LINE 1: …` excerpt)."""
    diag = getattr(exc, "diag", None)
    text = getattr(diag, "message_primary", None) or str(exc).split("\n")[0]
    detail = getattr(diag, "message_detail", None)
    if detail:
        text = f"{text} ({detail})"
    return f"{type(exc).__name__}: {' '.join(text.split())}"


def _invalid(index: str) -> str:
    return (f"index {index} exists but is INVALID: the concurrent build did not finish; "
            f"drop it (DROP INDEX CONCURRENTLY {index}) before running the change again")


class PostgresTransaction:
    """One open, fenced target transaction (the `TargetTransaction` protocol)."""

    def __init__(self, target: PostgresTarget) -> None:
        self.target = target
        self.conn = target.conn

    def execute(self, sql: str) -> None:
        impl = self.target.impl
        for statement in impl.split_statements(sql):
            try:
                self.conn.execute(statement)
            except impl.driver_errors() as exc:
                raise StatementFailed(_failure(exc)) from None
            if not self.conn.in_transaction:
                raise StatementFailed("the statement ended the runner's transaction")

    def add_marker(self, apply_id: str, change_id: str, seq: int, committed_at: str) -> None:
        impl = self.target.impl
        try:
            self.conn.execute(
                "INSERT INTO setright_markers (apply_id, change_id, seq, committed_at)"
                " VALUES (?, ?, ?, ?)", (apply_id, change_id, seq, committed_at))
        except impl.driver_errors() as exc:
            if impl.is_integrity_error(exc):
                raise StatementFailed(
                    f"marker for operation {seq} of {change_id} in {apply_id} already exists:"
                    " the operation committed before") from None
            raise StatementFailed(f"cannot write marker: {_failure(exc)}") from None

    def delete_markers(self, apply_id: str, change_id: str) -> int:
        return self.conn.execute(
            "DELETE FROM setright_markers WHERE apply_id = ? AND change_id = ?",
            (apply_id, change_id)).rowcount


class PostgresTarget:
    """A PostgreSQL target (the `Target` protocol, plus session locks and autocommit)."""

    def __init__(self, name: str, url: DbUrl, conn: PgConnection, impl: PostgresImpl) -> None:
        self.name = name
        self.url = url
        self.location = url.where
        self.conn = conn
        self.impl = impl
        self._session_locks: set[str] = set()

    @classmethod
    def open(cls, name: str, url: DbUrl, *, read_only: bool = False) -> PostgresTarget:
        """Connect and (unless `read_only`) create setright's two tables. There is no
        `create`: setright never creates a server database."""
        impl = PostgresImpl()
        try:
            conn = impl.connect(url, read_only=read_only)
        except TargetError:
            raise
        except Exception as exc:  # DatabaseUnavailable: name the target too
            message = getattr(exc, "message", str(exc))
            raise TargetError(f"target {name}: {message}") from None
        target = cls(name, url, conn, impl)
        if not read_only:
            try:
                impl.begin(conn, write=True)  # two runners may create the tables at once
                conn.execute(MARKERS_DDL)
                conn.execute(FENCE_DDL)
                impl.commit(conn)
            except impl.driver_errors() as exc:
                impl.rollback(conn)
                conn.close()
                raise TargetError(f"target {name}: cannot prepare {url.where}: "
                                  f"{_failure(exc)}") from None
        return target

    # -- the fence ----------------------------------------------------------

    def claim(self, lock_id: str, owner: str, at: str) -> None:
        """Take the fence; waits for (never interrupts) a transaction another runner has open."""
        try:
            self.conn.execute("BEGIN")
            self.conn.execute(
                "INSERT INTO setright_runner_fence (id, lock_id, owner, claimed_at)"
                " VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET lock_id = excluded.lock_id,"
                " owner = excluded.owner, claimed_at = excluded.claimed_at",
                (lock_id, owner, at))
            self.conn.execute("COMMIT")
        except self.impl.driver_errors() as exc:
            self.impl.rollback(self.conn)
            raise TargetError(f"target {self.name}: cannot claim {self.location}: "
                              f"{_failure(exc)}") from None

    @contextmanager
    def transaction(self, lock_id: str) -> Iterator[PostgresTransaction]:
        """BEGIN, lock and check the fence row, yield; COMMIT, or ROLLBACK on any exception."""
        try:
            self.conn.execute("BEGIN")
        except self.impl.driver_errors() as exc:
            raise StatementFailed(f"cannot begin a transaction: {_failure(exc)}") from None
        try:
            self._check_fence(lock_id, lock=True)
            yield PostgresTransaction(self)
            try:
                self.conn.execute("COMMIT")
            except self.impl.driver_errors() as exc:
                raise StatementFailed(f"COMMIT failed: {_failure(exc)}") from None
        except BaseException:
            self._rollback()
            raise

    def _check_fence(self, lock_id: str, *, lock: bool) -> None:
        suffix = " FOR UPDATE" if lock else ""
        try:
            row = self.conn.execute(
                f"SELECT lock_id FROM setright_runner_fence WHERE id = 1{suffix}").fetchone()
        except self.impl.driver_errors() as exc:
            raise StatementFailed(f"cannot read the runner fence: {_failure(exc)}") from None
        if row is None or row[0] != lock_id:
            raise LeaseLost(
                f"target {self.name} was claimed by another runner",
                ["this runner's lease is gone; it wrote nothing more to the target"])

    def latest_apply_id(self) -> str | None:
        """The apply of the newest marker (apply ids grow with time); None also where no
        runner made the marker table yet (read-only)."""
        if not self.impl.table_exists(self.conn, "setright_markers"):
            return None
        row = self.conn.execute("SELECT max(apply_id) FROM setright_markers").fetchone()
        return row[0] if row else None

    def markers(self, apply_id: str, change_id: str) -> set[int]:
        try:
            rows = self.conn.execute(
                "SELECT seq FROM setright_markers WHERE apply_id = ? AND change_id = ?",
                (apply_id, change_id)).fetchall()
        except self.impl.driver_errors() as exc:
            if isinstance(exc, self.impl.errors.UndefinedTable):  # a fresh target, read-only
                self._rollback()
                return set()
            raise
        return {int(r[0]) for r in rows}

    # -- outside transactions -------------------------------------------------

    def execute_autocommit(self, sql: str, *, lock_id: str | None = None) -> None:
        """Run statements that cannot run in a transaction, each committing on its own.

        With `lock_id`, the fence is checked first — not atomically with the statements
        (nothing can be): the session lock is what keeps a second runner out meanwhile.
        """
        if self.conn.in_transaction:
            raise StatementFailed("cannot run outside a transaction: one is open")
        if lock_id is not None:
            self._check_fence(lock_id, lock=False)
        for statement in self.impl.split_statements(sql):
            try:
                self.conn.execute(statement)
            except self.impl.driver_errors() as exc:
                raise StatementFailed(_failure(exc)) from None

    def index_is_valid(self, name: str) -> bool | None:
        """Whether the index `name` exists and is usable (None: no such index). A failed or
        interrupted `CREATE INDEX CONCURRENTLY` leaves an index that is not valid."""
        row = self.conn.execute(
            "SELECT x.indisvalid AND x.indisready FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace"
            " WHERE n.nspname = current_schema() AND i.relname = ?", (fold(name),)).fetchone()
        return None if row is None else bool(row[0])

    # -- the session lock -------------------------------------------------------

    def session_lock(self, name: str) -> None:
        """Hold `pg_advisory_lock` on `name` for this connection's life (or `session_unlock`);
        `TargetError` at once if another session holds it."""
        row = self.conn.execute("SELECT pg_try_advisory_lock(?, hashtext(?))",
                                (SESSION_LOCK_CLASS, name)).fetchone()
        if not row[0]:
            holder = self._lock_holder(name)
            raise TargetError(
                f"target {self.name}: another runner holds the session lock {name!r}",
                [f"held by PostgreSQL backend {holder}" if holder else
                 "the holder ended while we looked; try again"])
        self._session_locks.add(name)

    def session_unlock(self, name: str) -> None:
        if name in self._session_locks:
            self.conn.execute("SELECT pg_advisory_unlock(?, hashtext(?))",
                              (SESSION_LOCK_CLASS, name))
            self._session_locks.discard(name)

    def _lock_holder(self, name: str) -> Any:
        row = self.conn.execute(
            "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
            " AND l.classid::bigint = ? AND l.objid::bigint = hashtext(?)::oid::bigint"
            " AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database"
            "  WHERE datname = current_database())", (SESSION_LOCK_CLASS, name)).fetchone()
        return row[0] if row else None

    def _apply_lock_name(self) -> str:
        """The runner's session lock: one per schema of the database."""
        schema = self.conn.execute("SELECT current_schema()").fetchone()[0] or ""
        return f"setright.apply:{schema}"

    def session_holder(self) -> LockSession | None:
        """The other backend holding the runner's session lock, if any."""
        pid = self._lock_holder(self._apply_lock_name())
        if pid is None or pid == self.conn.backend_pid:
            return None
        return LockSession(f"PostgreSQL backend {pid}", f"SELECT pg_terminate_backend({pid})")

    def hold_session_lock(self, timeout: float) -> None:
        """Hold the target's apply lock (one per schema of the database) until `close`,
        waiting up to `timeout` seconds; `TargetBusy` naming the holder after that."""
        name = self._apply_lock_name()
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            try:
                self.session_lock(name)
                return
            except TargetError as exc:
                if time.monotonic() >= deadline:
                    self._rollback()
                    raise TargetBusy(
                        f"target {self.name} is being changed by another runner",
                        session_lock_info(self.conn, f"{name} in {self.location}",
                                          "; ".join(exc.details))) from None
            time.sleep(0.2)

    # -- what the runner asks of a server target --------------------------------

    def runs_alone(self, sql: str) -> bool:
        """Whether an operation holds a statement PostgreSQL refuses inside a transaction."""
        return any(self.impl.needs_autocommit(s) for s in self.impl.split_statements(sql))

    def execute_alone(self, sql: str, lock_id: str) -> None:
        self.execute_autocommit(sql, lock_id=lock_id)

    def settle_unmarked(self, sql: str) -> Settled:
        """For an operation whose marker is missing: ran in a transaction with its marker
        (no marker, no effect), or outside one — then only a concurrent index build or drop
        can be settled, from `pg_index`; anything else is unknown."""
        if not self.runs_alone(sql):
            return ATOMIC
        statements = self.impl.split_statements(sql)
        found = concurrent_index(statements[0]) if len(statements) == 1 else None
        if found is None:
            return Settled(None, "it ran outside a transaction and the catalog cannot tell "
                                 "whether it finished")
        kind, index = found
        valid = self.index_is_valid(index)
        if valid is False:
            return Settled(False, _invalid(index), leftover=True)
        if kind == "create":
            return (Settled(True, f"index {index} exists and is valid") if valid
                    else Settled(False, f"index {index} does not exist"))
        return (Settled(True, f"index {index} is gone") if valid is None
                else Settled(False, f"index {index} still exists"))

    def failure_note(self, sql: str) -> str | None:
        """After a failed statement outside a transaction: what it left behind (a failed
        `CREATE INDEX CONCURRENTLY` leaves an invalid index that blocks a re-run)."""
        if not self.runs_alone(sql):
            return None
        for statement in self.impl.split_statements(sql):
            found = concurrent_index(statement)
            if found is not None and found[0] == "create":
                try:
                    if self.index_is_valid(found[1]) is False:
                        return _invalid(found[1])
                except self.impl.driver_errors():  # pragma: no cover - the connection broke
                    return None
        return None

    # -- the rest -------------------------------------------------------------

    def schema_snapshot(self) -> dict[str, Any]:
        """The current schema's tables, columns, indexes, constraints, views and triggers
        (setright's own tables left out), in one read-only snapshot."""
        try:
            return self.impl.schema_snapshot(self.conn)
        except self.impl.driver_errors() as exc:
            self._rollback()
            raise TargetError(f"target {self.name}: cannot read the schema of {self.location}: "
                              f"{_failure(exc)}") from None

    def interrupt(self) -> None:
        """Abort the statement running now (thread-safe); its transaction rolls back."""
        self.conn.cancel()

    def _rollback(self) -> None:
        try:
            self.impl.rollback(self.conn)
        except self.impl.driver_errors():  # pragma: no cover - the connection is gone
            pass

    def close(self) -> None:
        """Close the connection, which also ends every session lock it held."""
        self.conn.close()
