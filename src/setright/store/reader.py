"""Reading a store without writing it (DESIGN §9.3): open read-only, empty stand-ins, fold in memory.

A read command must work for a role that can only read: a store file it may
not write, in a folder where it may not create SQLite's `-wal`/`-shm` files.
So readers connect with `mode=ro` and never create, upgrade or write the
store. What a reader would otherwise need to write lives in the connection's
TEMP schema, which SQLite resolves before `main`:

* a `setright_*` table the store lacks (a Flamingock table nobody has fixed
  yet, or a store created for another audit table) gets an empty TEMP
  stand-in with the same columns, so it reads as empty;
* audit rows the change-state cache has not folded yet are folded into a
  TEMP copy of the cache, with the same SQL a writer's fold uses, so the
  result is the one a write fold would give.
"""

from __future__ import annotations

import sqlite3
from functools import cache
from pathlib import Path

from setright.errors import StoreError
from setright.store import schema
from setright.store.audit import fold_audit_rows
from setright.store.url import needs_upgrade, no_store, shown_url

BUSY_TIMEOUT_S = 5.0
CACHE_TABLE = "setright_change_state"
_SQLITE_READONLY, _SQLITE_CANTOPEN = 8, 14


def connect_readonly(path: Path, url: str) -> sqlite3.Connection:
    """The store's `mode=ro` connection; a missing file is `Error: no audit store at URL`."""
    if not path.is_file():
        raise no_store(url)
    try:
        return open_readonly(path)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot read the audit store {shown_url(url)}: {exc}") from None


def open_readonly(path: Path) -> sqlite3.Connection:
    """A `mode=ro` connection to an existing SQLite file (store or target); creates nothing.

    SQLite reads a WAL database read-only only if its `-shm` file exists or can
    be created; in a folder nobody can write (so no writer is using the WAL
    either) it can read it only as `immutable=1`, which is what we fall back to.
    Raises `sqlite3.DatabaseError` when the file cannot be read.
    """
    if not path.is_file():
        raise sqlite3.OperationalError(f"{path} does not exist")
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        return _probe(_connect(uri))
    except sqlite3.OperationalError as exc:
        if not (_cannot_make_wal_index(exc) and _wal_without_index(path)):
            raise
    return _probe(_connect(uri + "&immutable=1"))


def _connect(uri: str) -> sqlite3.Connection:
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S,
                           check_same_thread=False)


def _probe(conn: sqlite3.Connection) -> sqlite3.Connection:
    """Read the schema once: opening is lazy, this is where a bad file shows."""
    try:
        conn.execute("SELECT count(*) FROM main.sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _cannot_make_wal_index(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    return code in (_SQLITE_READONLY, _SQLITE_CANTOPEN)


def _wal_without_index(path: Path) -> bool:
    """A WAL-mode file (header bytes 18–19 are 2) whose `-shm` does not exist."""
    try:
        with path.open("rb") as handle:
            header = handle.read(20)
    except OSError:
        return False
    shm = path.with_name(path.name + "-shm")
    return header[18:20] == b"\x02\x02" and not shm.exists()


def prepare(conn: sqlite3.Connection, audit_table: str, url: str) -> MemoryFold:
    """Check that a store exists and can be read as is; add empty stand-ins; fold in memory."""
    tables = {row[0] for row in conn.execute(
        "SELECT name FROM main.sqlite_master WHERE type = 'table'")}
    if "setright_meta" not in tables and audit_table not in tables:
        raise no_store(url)
    if "setright_meta" in tables:
        version = schema.current_version(conn)
        if version < schema.READABLE_FROM:
            raise needs_upgrade(url, version, schema.SCHEMA_VERSION)
    for name, ddl in pristine_tables(audit_table).items():
        if name not in tables:
            conn.execute(temp_ddl(ddl))
    check_audit_layout(conn, audit_table, shown_url(url))
    fold = MemoryFold(audit_table, shadowing=CACHE_TABLE not in tables)
    fold.catch_up(conn)
    return fold


def check_audit_layout(conn: sqlite3.Connection, audit_table: str, shown: str) -> None:
    """The audit table has Flamingock's columns, and is the one this store folds."""
    missing = schema.missing_audit_columns(conn, audit_table)
    if missing:
        raise StoreError(
            f"table {audit_table!r} in {shown} is not a Flamingock-layout audit log",
            [f"missing columns: {', '.join(missing)}"],
        )
    row = conn.execute("SELECT value FROM setright_meta WHERE key = 'audit_table'").fetchone()
    if row and row[0] and row[0] != audit_table:
        raise StoreError(
            f"the audit store {shown} folds audit table {row[0]!r}, not {audit_table!r}",
            ["use one store per audit table (store.audit_table in setright.yaml)"],
        )


@cache
def pristine_tables(audit_table: str) -> dict[str, str]:
    """`CREATE TABLE` text of every table a new store has (built once, in memory)."""
    mem = sqlite3.connect(":memory:", isolation_level=None)
    try:
        mem.execute("BEGIN")
        schema.upgrade(mem, audit_table)
        mem.execute("COMMIT")
        return {name: sql for name, sql in mem.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name")}
    finally:
        mem.close()


def temp_ddl(sql: str) -> str:
    """The same table in the connection's TEMP schema (SQLite stores `CREATE TABLE …` as is)."""
    prefix = "CREATE TABLE"
    if not sql.upper().startswith(prefix):  # pragma: no cover - SQLite normalises the prefix
        raise ValueError(f"unexpected table definition: {sql[:40]!r}")
    return "CREATE TEMP TABLE" + sql[len(prefix):]


def _columns(conn: sqlite3.Connection, schema_name: str, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA {schema_name}.table_info({schema.quote(table)})")]


class MemoryFold:
    """The change-state cache as a write fold would leave it, kept in TEMP, never in the file."""

    def __init__(self, audit_table: str, *, shadowing: bool) -> None:
        self.audit_table = audit_table
        self.shadowing = shadowing   # a TEMP cache hides the file's (or stands in for it)
        self.folded: int | None = None

    def catch_up(self, conn: sqlite3.Connection) -> int:
        """Fold audit rows the cache lacks (as the caller's snapshot sees them); return how many."""
        top = conn.execute(f"SELECT max(id) FROM {schema.quote(self.audit_table)}").fetchone()[0]
        # Until a TEMP cache exists, the file's cache is the one read: start where it stops.
        base = self.folded if self.shadowing and self.folded is not None else _stored_fold(conn)
        if top is None or top <= base:
            self.folded = base
            return 0
        if not self.shadowing:
            conn.execute(temp_ddl(pristine_tables(self.audit_table)[CACHE_TABLE]))
            names = [c for c in _columns(conn, "temp", CACHE_TABLE)
                     if c in set(_columns(conn, "main", CACHE_TABLE))]
            listed = ", ".join(names)
            conn.execute(f"INSERT INTO temp.{CACHE_TABLE} ({listed})"
                         f" SELECT {listed} FROM main.{CACHE_TABLE}")
            self.shadowing = True
        fold_audit_rows(conn, self.audit_table, base, top)
        self.folded = top
        return int(top - base)


def _stored_fold(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM setright_meta WHERE key = 'folded_audit_id'").fetchone()
    return int(row[0]) if row and row[0] is not None else 0
