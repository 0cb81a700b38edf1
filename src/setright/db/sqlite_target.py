"""A SQLite file as a runner target: markers, the runner fence, statements.

The two setright tables of every target (`setright_markers`, `setright_runner_fence`,
see `runner/targets.py`) live in the file. SQLite DDL is transactional and every
statement runs inside the runner's `BEGIN IMMEDIATE` transaction, whose write lock
also serialises the fence check against a second runner's `claim`. Readers open the
file with `mode=ro` and never create it, its folder or setright's tables.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from setright.db import sqlite_lexer
from setright.db.settled import ATOMIC, Settled
from setright.db.sqlite import BUSY_TIMEOUT_MS, open_writer
from setright.errors import LeaseLost, StatementFailed, TargetError

#: WITHOUT ROWID: the rows live in their primary key's b-tree, so a marker costs its
#: target commit one page, not two (a table and its key's index). A target made before
#: keeps its table as it is: both forms read and write alike.
MARKERS_DDL = (
    "CREATE TABLE IF NOT EXISTS setright_markers ("
    " apply_id TEXT NOT NULL, change_id TEXT NOT NULL, seq INTEGER NOT NULL,"
    " committed_at TEXT NOT NULL, PRIMARY KEY (apply_id, change_id, seq)) WITHOUT ROWID"
)
FENCE_DDL = (
    "CREATE TABLE IF NOT EXISTS setright_runner_fence ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), lock_id TEXT NOT NULL, owner TEXT,"
    " claimed_at TEXT)"
)


def read_markers(name: str, path: Path, apply_id: str, change_id: str) -> list[int]:
    """The committed operations of one task, read with `mode=ro`; a markers table that does
    not exist means no marker. `TargetError` when it cannot be read, or the file is gone
    (a task in flight ran there, so a missing file says nothing of what committed)."""
    if not path.is_file():
        raise TargetError(f"target {name}: {path} does not exist")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                               timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise TargetError(f"target {name}: cannot read {path}: {exc}") from None
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table'"
                        " AND name = 'setright_markers'").fetchone() is None:
            return []
        rows = conn.execute("SELECT seq FROM setright_markers WHERE apply_id = ?"
                            " AND change_id = ? ORDER BY seq", (apply_id, change_id))
        return [int(r[0]) for r in rows]
    except sqlite3.Error as exc:
        raise TargetError(f"target {name}: cannot read {path}: {exc}") from None
    finally:
        conn.close()


class SqliteTransaction:
    """One open, fenced target transaction (the `TargetTransaction` protocol)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str) -> None:
        for statement in sqlite_lexer.split_statements(sql):
            try:
                self.conn.execute(statement)
            except sqlite3.Error as exc:
                raise StatementFailed(f"{type(exc).__name__}: {exc}") from None
            if not self.conn.in_transaction:
                # e.g. a COMMIT inside a change: the marker could no longer be atomic with it.
                raise StatementFailed("the statement ended the runner's transaction")

    def add_marker(self, apply_id: str, change_id: str, seq: int, committed_at: str) -> None:
        try:
            self.conn.execute(
                "INSERT INTO setright_markers (apply_id, change_id, seq, committed_at)"
                " VALUES (?, ?, ?, ?)", (apply_id, change_id, seq, committed_at))
        except sqlite3.IntegrityError:
            # The marker exists: this operation already committed once. Refusing here
            # rolls the statement back, so it never takes effect twice.
            raise StatementFailed(
                f"marker for operation {seq} of {change_id} in {apply_id} already exists:"
                " the operation committed before") from None
        except sqlite3.Error as exc:
            raise StatementFailed(f"cannot write marker: {exc}") from None

    def delete_markers(self, apply_id: str, change_id: str) -> int:
        return self.conn.execute(
            "DELETE FROM setright_markers WHERE apply_id = ? AND change_id = ?",
            (apply_id, change_id)).rowcount


class SqliteTarget:
    """A SQLite file, opened in WAL mode with `synchronous=FULL` (as durable as the store)."""

    def __init__(self, name: str, path: Path, conn: sqlite3.Connection, *,
                 readonly: bool = False) -> None:
        self.name = name
        self.path = path
        self.location = str(path)
        self.conn = conn
        self.readonly = readonly
        self.immutable = False   # a reader of a checkpointed WAL file: see schema_snapshot

    @staticmethod
    def exists(path: Path) -> bool:
        return path.is_file()

    @classmethod
    def open_readonly(cls, name: str, path: Path) -> SqliteTarget:
        """For read commands: `mode=ro`, nothing created — not even the `-wal`/`-shm` a
        `mode=ro` reader of a WAL file leaves behind; a missing file is an error."""
        from setright.db.sqlite import open_readonly
        from setright.db.sqlite_store import wal_is_checkpointed

        if not path.is_file():
            raise TargetError(f"target {name}: database {path} does not exist")
        immutable = wal_is_checkpointed(path)   # then opened immutable=1: see schema_snapshot
        try:
            conn = open_readonly(path, leave_no_files=True)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except sqlite3.Error as exc:
            raise TargetError(f"target {name}: cannot read {path}: {exc}") from None
        target = cls(name, path, conn, readonly=True)
        target.immutable = immutable
        return target

    def _writable(self) -> None:
        if self.readonly:
            raise TargetError(f"target {self.name}: opened read-only, cannot write {self.path}")

    @classmethod
    def open(cls, name: str, path: Path, *, create: bool) -> SqliteTarget:
        if not create and not path.is_file():
            raise TargetError(f"target {name}: database {path} does not exist")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = open_writer(path)   # the lease keeper calls interrupt() from its thread
            conn.execute(MARKERS_DDL)
            conn.execute(FENCE_DDL)
        except (sqlite3.Error, OSError) as exc:
            raise TargetError(f"target {name}: cannot open {path}: {exc}") from None
        return cls(name, path, conn)

    def claim(self, lock_id: str, owner: str, at: str) -> None:
        """Take the fence; waits for (never interrupts) a transaction another runner has open."""
        self._writable()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(
                "INSERT INTO setright_runner_fence (id, lock_id, owner, claimed_at)"
                " VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET lock_id = excluded.lock_id,"
                " owner = excluded.owner, claimed_at = excluded.claimed_at",
                (lock_id, owner, at))
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise TargetError(f"target {self.name}: cannot claim {self.path}: {exc}") from None

    @contextmanager
    def transaction(self, lock_id: str) -> Iterator[SqliteTransaction]:
        """BEGIN IMMEDIATE, check the fence, yield; COMMIT, or ROLLBACK on any exception."""
        self._writable()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StatementFailed(f"cannot begin a transaction: {exc}") from None
        try:
            row = self.conn.execute("SELECT lock_id FROM setright_runner_fence WHERE id = 1").fetchone()
            if row is None or row[0] != lock_id:
                raise LeaseLost(
                    f"target {self.name} was claimed by another runner",
                    ["this runner's lease is gone; it wrote nothing more to the target"])
            yield SqliteTransaction(self.conn)
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StatementFailed(f"COMMIT failed: {exc}") from None
        except BaseException:
            self._rollback()
            raise

    def latest_apply_id(self) -> str | None:
        """The apply of the newest marker (apply ids grow with time); None also where no
        runner made the marker table yet (read-only)."""
        if self.readonly and not self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'setright_markers'").fetchone():
            return None
        row = self.conn.execute("SELECT max(apply_id) FROM setright_markers").fetchone()
        return row[0] if row else None

    def markers(self, apply_id: str, change_id: str) -> set[int]:
        if self.readonly and not self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'setright_markers'").fetchone():
            return set()  # setright never ran here: no markers (and a reader creates none)
        rows = self.conn.execute(
            "SELECT seq FROM setright_markers WHERE apply_id = ? AND change_id = ?",
            (apply_id, change_id))
        return {int(r[0]) for r in rows}

    # -- what server targets need and SQLite does not ------------------------------

    def hold_session_lock(self, timeout: float) -> None:
        """Nothing to hold: every statement runs inside a fenced `BEGIN IMMEDIATE`."""

    def session_holder(self) -> None:
        """Nothing holds one: a killed runner's transaction ends with its process."""

    def runs_alone(self, sql: str) -> bool:
        """SQLite runs every statement inside a transaction."""
        return False

    def execute_alone(self, sql: str, lock_id: str) -> None:
        raise StatementFailed("SQLite runs every statement inside the runner's transaction")

    def settle_unmarked(self, sql: str) -> Settled:
        """A statement and its marker commit together: no marker, no effect."""
        return ATOMIC

    def failure_note(self, sql: str) -> str | None:
        """A failed statement rolled back with its transaction: nothing to add."""
        return None
    def schema_snapshot(self) -> dict[str, Any]:
        """The file's tables, columns, indexes, constraints, views and triggers (setright's
        own tables left out), read from the catalog; `TargetError` when it cannot be read."""
        from setright.db.sqlite import SqliteImpl, open_readonly
        from setright.db.sqlite_store import wal_is_checkpointed

        try:
            schema = SqliteImpl().schema_snapshot(self.conn)
            if self.immutable and not wal_is_checkpointed(self.path):
                # An immutable read while a writer appeared (or a mode=ro one all along):
                # read again through the writer's -wal, which now exists, creating nothing.
                conn = open_readonly(self.path)
                try:
                    schema = SqliteImpl().schema_snapshot(conn)
                finally:
                    conn.close()
            return schema
        except sqlite3.Error as exc:
            raise TargetError(f"target {self.name}: cannot read the schema of {self.path}: "
                              f"{exc}") from None

    def interrupt(self) -> None:
        """Abort the statement running now (thread-safe); its transaction rolls back."""
        self.conn.interrupt()

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:  # pragma: no cover - the connection is already unusable
                pass

    def close(self) -> None:
        self.conn.close()
