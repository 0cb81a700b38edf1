"""Reading a store without writing it: open read-only, empty stand-ins, fold in memory.

A read command must work for a role that can only read: a store file it may
not write, in a folder where it may not create SQLite's `-wal`/`-shm` files, or
a server role with only `SELECT`. So readers connect read-only and never
create, upgrade or write the store. What a reader would otherwise need to
write lives in the session only, as the dialect provides it (SQLite: the
connection's TEMP schema, which it resolves before `main`; `setright.db`):

* a `setright_*` table the store lacks (a Flamingock table nobody has fixed
  yet, or a store created for another audit table) gets an empty stand-in
  with the same columns, so it reads as empty;
* audit rows the change-state cache has not folded yet are folded into a
  private copy of the cache, with the same SQL a writer's fold uses, so the
  result is the one a write fold would give.

What is decided here, for every dialect: a reader never creates a store (a
missing one is `Error: no audit store at URL`), never upgrades one, and refuses
one it cannot read as is.
"""

from __future__ import annotations

from collections.abc import Callable

from setright.db import Connection, DbUrl
from setright.db.impl import DatabaseUnavailable, DefaultImpl, impl_for
from setright.db.url import check_store_url, needs_upgrade, no_store, too_new
from setright.errors import StoreError
from setright.store import schema
from setright.store.audit import beats_the_cache, fold_audit_rows

CACHE_TABLE = "setright_change_state"


def connect(url: DbUrl) -> tuple[DefaultImpl, Connection]:
    """The store's read-only connection; a missing store is `Error: no audit store at URL`."""
    impl = impl_for(url)
    try:
        return impl, impl.connect(url, read_only=True)
    except DatabaseUnavailable as exc:
        if exc.missing:
            raise no_store(url) from None
        raise StoreError(f"cannot read the audit store {url.shown}: {exc.cause}",
                         [check_store_url(url)]) from None


def build_schema(audit_table: str) -> Callable[[Connection], None]:
    """What a new store has: the model `impl.stand_in_tables` / `shadow_table` copy (every
    migration from an empty store, whatever the connection's store already holds)."""
    return lambda conn: schema.build_all(conn, audit_table)


def prepare(conn: Connection, impl: DefaultImpl, audit_table: str, url: DbUrl) -> MemoryFold:
    """Check that a store exists and can be read as is; add empty stand-ins; fold in memory.

    A server answers in few round trips: the catalog in one (`impl.reader_catalog`), every
    `setright_meta` value with the log's highest id in another, and the look-back check."""
    catalog = impl.reader_catalog(conn, audit_table)
    tables = catalog.tables
    has_meta = "setright_meta" in tables
    has_audit = catalog.audit_columns is not None
    if not has_meta and not has_audit:
        raise no_store(url)
    # The log's highest id is asked only where the private cache must be made now (below).
    asks_top = not impl.session_tables_in_snapshot and CACHE_TABLE in tables and has_audit
    meta = StoredMeta.read(conn, impl, has_meta, audit_table if asks_top else None)
    if has_meta and meta.version < schema.READABLE_FROM:
        raise needs_upgrade(url, meta.version, schema.SCHEMA_VERSION)
    if has_meta and meta.version > schema.SCHEMA_VERSION:
        raise too_new(url.where, meta.version, schema.SCHEMA_VERSION)
    missing = [name for name in schema.TABLES if name not in tables]
    if not has_audit:
        missing.append(audit_table)
    if missing:
        try:
            impl.stand_in_tables(conn, missing, build_schema(audit_table), audit_table)
        except Exception as exc:
            if not impl.is_read_only_error(exc):
                raise
            raise _no_session_tables(url, impl, exc,
                                     f"the store lacks {', '.join(sorted(missing))}") from None
    columns = (catalog.audit_columns if catalog.audit_columns is not None
               else impl.column_names(conn, audit_table))   # the stand-in's
    present = set(columns)
    _check_layout(audit_table, url.shown,
                  [name for name in schema.AUDIT_COLUMN_NAMES if name not in present],
                  meta.values.get("audit_table"))
    fold = MemoryFold(impl, audit_table, shadowing=CACHE_TABLE not in tables)
    if not impl.session_tables_in_snapshot and not fold.shadowing:
        # No table can be made inside the read snapshot later: make the private cache now,
        # if the store's lags (a copy of a 100,000-change cache costs ~0.2 s).
        behind = meta.unfolded
        if not behind and not _late_rows(conn, impl, audit_table, meta.folded):
            # The cache is complete now; rows a foreign runner appends during this command
            # are read by the next one (setright's own writers fold as they write).
            fold.frozen = True
        else:
            try:
                fold.shadow(conn)
            except Exception as exc:
                if not impl.is_read_only_error(exc):
                    raise
                if behind:
                    raise _no_session_tables(
                        url, impl, exc, f"{behind} audit row(s) are not folded yet") from None
                fold.frozen = True   # only the look-back window could not be read again
    fold.catch_up(conn)
    return fold


class StoredMeta:
    """Every `setright_meta` value, read once (and the audit log's highest id, if asked)."""

    def __init__(self, values: dict[str, str], top: int | None) -> None:
        self.values = values
        self.top = top

    @classmethod
    def read(cls, conn: Connection, impl: DefaultImpl, has_meta: bool,
             top_of: str | None) -> StoredMeta:
        """The values (none where the store has no `setright_meta`); `top_of`: also that audit
        table's highest id, in the same statement where a meta row can carry it."""
        top = f"(SELECT max(id) FROM {impl.quote(top_of)})" if top_of is not None else None
        rows = conn.execute(f"SELECT {impl.quote('key')}, value{', ' + top if top else ''}"
                            " FROM setright_meta").fetchall() if has_meta else []
        highest = None
        if top is not None:
            highest = rows[0][2] if rows else conn.execute(f"SELECT {top}").fetchone()[0]
        return cls({str(row[0]): row[1] for row in rows},
                   int(highest) if highest is not None else None)

    @property
    def version(self) -> int:
        """`schema.current_version`'s answer (0: none recorded)."""
        value = self.values.get("schema_version")
        return int(value) if value else 0

    @property
    def folded(self) -> int:
        """`folded_audit_id`: every audit row up to it is in the store's cache."""
        value = self.values.get("folded_audit_id")
        return int(value) if value is not None else 0

    @property
    def unfolded(self) -> int:
        """How many ids above the fold point the log holds (its highest id must be read)."""
        return max(0, (self.top or 0) - self.folded)


def _late_rows(conn: Connection, impl: DefaultImpl, audit_table: str, folded: int) -> bool:
    """A row committed late below the store's fold point that the cache does not show yet."""
    lookback = impl.fold_lookback_ids
    return bool(lookback) and beats_the_cache(conn, audit_table, max(0, folded - lookback),
                                              folded)


def _no_session_tables(url: DbUrl, impl: DefaultImpl, exc: BaseException,
                       why: str) -> StoreError:
    return StoreError(
        f"cannot read the audit store {url.shown}: {why}, and this connection may not make "
        "the session tables a reader folds into",
        [impl.error_line(exc), "grant the role CREATE TEMPORARY TABLES (MySQL) or TEMP "
         "(PostgreSQL), or run any write command (it folds the log) and read again"])


def check_audit_layout(conn: Connection, audit_table: str, shown: str) -> None:
    """The audit table has Flamingock's columns, and is the one this store folds."""
    _check_layout(audit_table, shown, schema.missing_audit_columns(conn, audit_table),
                  schema.meta_value(conn, "audit_table"))


def _check_layout(audit_table: str, shown: str, missing: list[str], folds: str | None) -> None:
    """`check_audit_layout` on what the caller read: the audit columns `missing`, the table
    the store `folds`."""
    if missing:
        raise StoreError(
            f"table {audit_table!r} in {shown} is not a Flamingock-layout audit log",
            [f"missing columns: {', '.join(missing)}"],
        )
    if folds and folds != audit_table:
        raise StoreError(
            f"the audit store {shown} folds audit table {folds!r}, not {audit_table!r}",
            ["use one store per audit table (store.audit_table in setright.yaml)"],
        )


class MemoryFold:
    """The change-state cache as a write fold would leave it, kept in the session, never stored."""

    def __init__(self, impl: DefaultImpl, audit_table: str, *, shadowing: bool) -> None:
        self.impl = impl
        self.audit_table = audit_table
        self.shadowing = shadowing   # a private cache hides the store's (or stands in for it)
        self.folded: int | None = None
        #: No private cache can be made: read the store's cache as it is.
        self.frozen = False

    def shadow(self, conn: Connection) -> None:
        """From now on, fold into a private copy of the store's cache. The fold point is read
        before the copy is taken: rows a writer folds in between are folded again, which
        changes nothing (the fold keeps a maximum)."""
        self.folded = _stored_fold(conn)
        self.impl.shadow_table(conn, CACHE_TABLE, build_schema(self.audit_table), self.audit_table)
        self.shadowing = True

    def catch_up(self, conn: Connection) -> int:
        """Fold audit rows the cache lacks (as the caller's snapshot sees them); return how many."""
        if self.frozen:
            return 0
        top = conn.execute(
            f"SELECT max(id) FROM {self.impl.quote(self.audit_table)}").fetchone()[0]
        # Until a private cache exists, the store's cache is the one read: start where it stops.
        base = self.folded if self.shadowing and self.folded is not None else _stored_fold(conn)
        # A server's rows committed late below the folded point (`fold_lookback_ids`): read
        # again where a private cache exists (`prepare` makes one when the window needs it).
        lookback = self.impl.fold_lookback_ids if self.shadowing else 0
        if top is None or (top <= base and not lookback):
            self.folded = base
            return 0
        if not self.shadowing:
            self.shadow(conn)
        fold_audit_rows(conn, self.audit_table, max(0, base - lookback), max(top, base))
        self.folded = max(top, base)
        return max(0, int(top - base))


def _stored_fold(conn: Connection) -> int:
    value = schema.meta_value(conn, "folded_audit_id")
    return int(value) if value is not None else 0
