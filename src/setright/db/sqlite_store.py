"""What the audit store does differently on SQLite: read-only opening, TEMP stand-ins, DDL.

`SqliteImpl` delegates here; nothing outside `setright.db` calls these directly.

* A reader opens the file `mode=ro`. SQLite reads a WAL database read-only only
  if its `-shm` file exists or can be created; in a folder nobody can write (so no
  writer is using the WAL either) it can read it only as `immutable=1`, which is
  what `open_readonly` falls back to.
* What a reader would otherwise have to write lives in the connection's TEMP
  schema, which SQLite resolves before `main`: an empty stand-in for a table the
  store lacks, and a TEMP copy of a table the reader folds into (the change-state
  cache). Both take their `CREATE TABLE` text from a pristine store built once in
  memory, so a stand-in has exactly the columns a new store would have.
* setright's own tables are created through sqlite-utils; the audit log keeps the
  column types of Flamingock's SQLite layout.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

_SQLITE_READONLY, _SQLITE_CANTOPEN = 8, 14

#: Flamingock's audit log columns with their SQLite types.
AUDIT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "INTEGER PRIMARY KEY"),
    ("execution_id", "TEXT"),
    ("stage_id", "TEXT"),
    ("change_id", "TEXT"),
    ("author", "TEXT"),
    ("created_at", "DATETIME"),
    ("state", "TEXT"),
    ("invoked_class", "TEXT"),
    ("invoked_method", "TEXT"),
    ("source_file", "TEXT"),
    ("metadata", "TEXT"),
    ("execution_millis", "INTEGER"),
    ("execution_hostname", "TEXT"),
    ("error_trace", "TEXT"),
    ("type", "TEXT"),
    ("tx_strategy", "TEXT"),
    ("target_system_id", "TEXT"),
    ("change_order", "TEXT"),
    ("recovery_strategy", "TEXT"),
    ("transaction_flag", "INTEGER"),
    ("system_change", "INTEGER"),
)


# -- opening read-only ---------------------------------------------------------


def open_readonly(path: Path, timeout: float, *, leave_no_files: bool = False
                  ) -> sqlite3.Connection:
    """A `mode=ro` connection to an existing file; creates nothing (no `-wal`/`-shm`
    where it cannot). Raises `sqlite3.DatabaseError` when the file cannot be read.

    `leave_no_files`: not even where it could. A `mode=ro` reader of a WAL file leaves
    `-wal` and `-shm` behind (it may not delete them on close); a WAL file without a `-wal`
    is fully checkpointed, so reading it `immutable=1` reads everything and creates nothing
    (the caller checks `wal_is_checkpointed` again after reading: a writer may have come)."""
    if not path.is_file():
        raise sqlite3.OperationalError(f"{path} does not exist")
    uri = f"{path.resolve().as_uri()}?mode=ro"
    if leave_no_files and wal_is_checkpointed(path):
        return _probe(_connect(uri + "&immutable=1", timeout))
    try:
        return _probe(_connect(uri, timeout))
    except sqlite3.OperationalError as exc:
        if not (_cannot_make_wal_index(exc) and _wal_without_index(path)):
            raise
    return _probe(_connect(uri + "&immutable=1", timeout))


def _connect(uri: str, timeout: float) -> sqlite3.Connection:
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout,
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


def wal_is_checkpointed(path: Path) -> bool:
    """A WAL-mode file with no `-wal` beside it: every committed page is in the file."""
    try:
        with path.open("rb") as handle:
            header = handle.read(20)
    except OSError:
        return False
    return header[18:20] == b"\x02\x02" and not path.with_name(path.name + "-wal").exists()


def _wal_without_index(path: Path) -> bool:
    """A WAL-mode file (header bytes 18–19 are 2) whose `-shm` does not exist."""
    try:
        with path.open("rb") as handle:
            header = handle.read(20)
    except OSError:
        return False
    shm = path.with_name(path.name + "-shm")
    return header[18:20] == b"\x02\x02" and not shm.exists()


# -- TEMP stand-ins for a reader -------------------------------------------------

_PRISTINE: dict[str, dict[str, str]] = {}


def pristine_tables(build: Callable[[Any], None], key: str) -> dict[str, str]:
    """`CREATE TABLE` text of every table `build` makes (built once per `key`, in memory)."""
    found = _PRISTINE.get(key)
    if found is None:
        mem = sqlite3.connect(":memory:", isolation_level=None)
        try:
            mem.execute("BEGIN")
            build(mem)
            mem.execute("COMMIT")
            found = {name: sql for name, sql in mem.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name")}
        finally:
            mem.close()
        _PRISTINE[key] = found
    return found


def temp_ddl(sql: str) -> str:
    """The same table in the connection's TEMP schema (SQLite stores `CREATE TABLE …` as is)."""
    prefix = "CREATE TABLE"
    if not sql.upper().startswith(prefix):  # pragma: no cover - SQLite normalises the prefix
        raise ValueError(f"unexpected table definition: {sql[:40]!r}")
    return "CREATE TEMP TABLE" + sql[len(prefix):]


def stand_in_tables(conn: Any, names: Collection[str], build: Callable[[Any], None],
                    key: str) -> None:
    """An empty TEMP table for each of `names`, in the order a new store lists them."""
    for name, ddl in pristine_tables(build, key).items():
        if name in names:
            conn.execute(temp_ddl(ddl))


def shadow_table(conn: Any, name: str, build: Callable[[Any], None], key: str) -> None:
    """A TEMP copy of `main.name` (the columns both have), which hides the file's table."""
    conn.execute(temp_ddl(pristine_tables(build, key)[name]))
    main = set(_columns(conn, "main", name))
    listed = ", ".join(c for c in _columns(conn, "temp", name) if c in main)
    conn.execute(f"INSERT INTO temp.{name} ({listed}) SELECT {listed} FROM main.{name}")


def _columns(conn: Any, schema_name: str, table: str) -> list[str]:
    quoted = '"' + table.replace('"', '""') + '"'
    return [row[1] for row in conn.execute(f"PRAGMA {schema_name}.table_info({quoted})")]


# -- DDL ------------------------------------------------------------------------


def audit_table_ddl(quoted_table: str) -> str:
    columns = ",\n  ".join(f"{name} {kind}" for name, kind in AUDIT_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {quoted_table} (\n  {columns}\n)"


def create_table(conn: Any, name: str, columns: dict[str, type], pk: Sequence[str],
                 not_null: Sequence[str] = ()) -> None:
    key: str | tuple[str, ...] = pk[0] if len(pk) == 1 else tuple(pk)
    _database(conn)[name].create(  # type: ignore[union-attr]
        columns, pk=key, not_null=set(not_null) or None, if_not_exists=True)


def create_index(conn: Any, name: str, table: str, columns: Sequence[str], *,
                 unique: bool = False) -> None:
    _database(conn)[table].create_index(  # type: ignore[union-attr]
        list(columns), index_name=name, unique=unique, if_not_exists=True)


def _database(conn: Any) -> Any:
    """sqlite-utils on the store's connection, for setright's own DDL. Without running
    sqlite-utils plugins: their `prepare_connection` hooks are for databases a user works
    on, not setright's store (an already created store is never opened through them), and
    finding them means importing `importlib.metadata` and reading every installed
    package's entry points, each time a store is created."""
    import sqlite_utils

    return sqlite_utils.Database(conn, execute_plugins=False)
