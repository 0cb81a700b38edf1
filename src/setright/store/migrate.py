"""`store migrate`: copy a whole audit store into an empty store on any database.

What is copied: the audit log (the configured table, Flamingock's layout) and
every `setright_*` table of the store — ids, lineage, serial and the folded
change-state cache as they are, so the destination is the same store moved (a
plan made before the move applies after it; the old store must then be
retired). Columns the database computes itself (MySQL's `active_target`, the
one-active-apply index) are left to it; auto-increment sequences are moved
past the highest copied id, so the next row gets a fresh id.

How:

* The destination must be empty: none of those tables may hold a row, except
  the `setright_meta` of a store that was created and never written (serial 0).
  It is checked read-only before anything is created, and again inside the
  copy's write transaction.
* The source is read in one read transaction (one snapshot), a page of rows at
  a time in key order; each page is one batched INSERT into the destination.
* All rows are written in ONE write transaction on the destination, and are
  verified inside it before COMMIT: per table, `count(*)` and an
  order-independent digest over canonical values (`copy_values`) must equal
  the source's. A mismatch, a value that does not fit, or a killed process
  rolls the whole copy back. The schema is created first, in its own
  transaction (DDL commits by itself on MySQL), so an interrupted migrate
  leaves an empty store there that a second `store migrate` accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from setright.db import Connection, DbUrl
from setright.db.impl import DatabaseUnavailable, DefaultImpl, impl_for
from setright.errors import StoreError
from setright.store import schema
from setright.store.connection import Store
from setright.store.copy_values import (PLAIN_TYPES, Digest, Fitter, fit_row, fitters,
                                        is_plain)

#: Rows per page read from the source and per batched INSERT into the destination.
BATCH_ROWS = 5000
#: The keys a new store's `setright_meta` starts with (`schema._v0_to_v1`, `upgrade`).
SEED_META_KEYS = frozenset({"lineage", "serial", "schema_version", "audit_table",
                            "folded_audit_id"})

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TableCopy:
    """One copied table: rows, and the digest both sides agreed on."""

    table: str
    rows: int
    digest: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Migration:
    """What `migrate_store` copied (URLs as shown: passwords masked)."""

    source: str
    destination: str
    lineage: str | None
    serial: int
    live_locks: int
    tables: list[TableCopy]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tables"] = [t.as_dict() for t in self.tables]
        return data


@dataclass(frozen=True)
class _TablePlan:
    table: str
    key: tuple[str, ...]
    columns: list[str]
    fit: list[Fitter]
    #: every destination column keeps what it is given (`copy_values.is_plain`)
    plain: bool


def store_tables(audit_table: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every table of a store with its primary key: the audit log first, then setright's."""
    return [(audit_table, ("id",))] + [(name, pk) for name, (_c, pk, _n) in schema.TABLES.items()]


def migrate_store(source: Store, destination: DbUrl, *, batch_rows: int = BATCH_ROWS,
                  progress: Progress | None = None,
                  targets: Mapping[str, DbUrl] | None = None) -> Migration:
    """Copy `source` (an opened, upgraded store) into the empty store at `destination`.

    Zone-less timestamps are read and written as wall-clock time in the source's
    `store.timezone` (`Store.timezone`), which the destination is opened with too.
    Refuses a non-empty destination, or the database of one of `targets` (the project's
    change targets: a store there would be written by the changes it records), before
    writing anything."""
    timezone = source.timezone
    if _same_database(source.url, destination):
        raise StoreError(f"the destination {destination.shown} is the store being migrated",
                         ["give --to the URL of another, empty database"])
    for name, url in (targets or {}).items():
        if (url.dialect, url.where) == (destination.dialect, destination.where):
            raise StoreError(f"the destination {destination.shown} is the database of "
                             f"target {name!r}",
                             ["the store belongs in a database of its own: give --to "
                              "the URL of another, empty database"])
    _check_empty_before_opening(destination, source.audit_table)
    target = Store.open(destination, source.audit_table, source.clock, timezone=timezone)
    try:
        with source.read() as src, target.write(state=False) as tx:
            refuse_occupied(tx, target.impl, destination, source.audit_table)
            tables = copy_store(src, source.impl, tx, target.impl, source.audit_table,
                                shown=destination.shown, timezone=timezone,
                                batch_rows=batch_rows, progress=progress)
            meta = _meta(src, source.impl)
            live = _live_locks(src, source.now_iso())
    finally:
        target.close()
    return Migration(
        source=source.url.shown, destination=destination.shown,
        lineage=meta.get("lineage") or None, serial=int(meta.get("serial") or 0),
        live_locks=live, tables=tables)


def copy_store(src: Connection, src_impl: DefaultImpl, tx: Connection, dst_impl: DefaultImpl,
               audit_table: str, *, shown: str, timezone: str = "UTC",
               batch_rows: int = BATCH_ROWS, progress: Progress | None = None
               ) -> list[TableCopy]:
    """Copy every store table from the snapshot `src` into the write transaction `tx` (whose
    store has the schema and no rows but its seed meta), advance the id sequences and verify
    each table; raises, for the caller to roll back, when anything differs. `shown` names
    the destination in errors."""
    plans = [_plan(src, src_impl, tx, dst_impl, table, key, timezone)
             for table, key in store_tables(audit_table)]
    tx.execute("DELETE FROM setright_meta")
    copies = []
    for plan in plans:
        expected = _count(src, src_impl, plan.table)
        try:
            digest = _copy(src, src_impl, tx, dst_impl, plan, expected, timezone, batch_rows,
                           progress)
        except Exception as exc:
            if not dst_impl.is_error(exc):
                raise
            # a value the destination's column cannot hold (too long, a NUL byte…)
            raise StoreError(f"cannot copy {plan.table} into {shown}: "
                             f"{dst_impl.error_line(exc)}",
                             ["nothing was written; the store being migrated is unchanged"]
                             ) from None
        copies.append((plan, expected, digest))
    for table, column in [(audit_table, "id"), *schema.AUTOINCREMENT.items()]:
        dst_impl.advance_id_sequence(tx, table, column)
    for plan, expected, digest in copies:
        _verify(tx, dst_impl, shown, plan, expected, digest, timezone, batch_rows)
    return [TableCopy(p.table, d.rows, d.hexdigest()) for p, _n, d in copies]


# -- the destination is empty ---------------------------------------------------


def occupied_tables(conn: Connection, impl: DefaultImpl, audit_table: str) -> list[str]:
    """The store tables in `conn` that hold rows, as `name (n rows)`; a `setright_meta`
    with only the seed of a never-written store (serial 0) counts as empty."""
    found = []
    for table, _key in store_tables(audit_table):
        if not impl.table_exists(conn, table):
            continue
        if table == "setright_meta":
            meta = _meta(conn, impl)
            if set(meta) <= SEED_META_KEYS and str(meta.get("serial") or "0") == "0":
                continue
            found.append(f"setright_meta (serial {meta.get('serial')})")
            continue
        rows = _count(conn, impl, table)
        if rows:
            found.append(f"{table} ({rows} row{'s' if rows != 1 else ''})")
    return found


def refuse_occupied(conn: Connection, impl: DefaultImpl, url: DbUrl, audit_table: str) -> None:
    occupied = occupied_tables(conn, impl, audit_table)
    if occupied:
        raise StoreError(f"the destination {url.shown} is not empty",
                         [f"it holds {', '.join(occupied)}",
                          "store migrate copies into an empty store only; nothing was written"])


def _check_empty_before_opening(url: DbUrl, audit_table: str) -> None:
    """Read-only, before `Store.open` creates or upgrades anything there. A database that
    cannot be opened this way (none yet, or unreachable) is left to `Store.open`: it
    creates a missing one where the dialect does, or says why it cannot."""
    impl = impl_for(url)
    try:
        conn = impl.connect(url, read_only=True)
    except DatabaseUnavailable:
        return
    try:
        refuse_occupied(conn, impl, url, audit_table)
    finally:
        conn.close()


def _same_database(a: DbUrl, b: DbUrl) -> bool:
    return (a.dialect, a.where, a.query) == (b.dialect, b.where, b.query)


# -- copying ----------------------------------------------------------------------


def _plan(src: Connection, src_impl: DefaultImpl, dst: Connection, dst_impl: DefaultImpl,
          table: str, key: Sequence[str], timezone: str) -> _TablePlan:
    """The columns to copy (the source's stored ones) and how to fit each to the
    destination's column; a source column the destination lacks is refused."""
    if not src_impl.table_exists(src, table):
        raise StoreError(f"the store being migrated has no table {table}")
    columns = list(src_impl.column_kinds(src, table))
    kinds = {name.lower(): kind for name, kind in dst_impl.column_kinds(dst, table).items()}
    missing = [c for c in columns if c.lower() not in kinds]
    if missing:
        raise StoreError(f"the destination's table {table} has no column "
                         f"{', '.join(missing)}", ["nothing was written to the destination"])
    by_lower = {c.lower(): c for c in columns}
    wanted = [kinds[c.lower()] for c in columns]
    return _TablePlan(table, tuple(by_lower[k.lower()] for k in key), columns,
                      fitters(wanted, timezone), is_plain(wanted))


def _copy(src: Connection, src_impl: DefaultImpl, tx: Connection, dst_impl: DefaultImpl,
          plan: _TablePlan, expected: int, timezone: str, batch_rows: int,
          progress: Progress | None) -> Digest:
    """Page through the source table in key order; one batched INSERT per page."""
    q = dst_impl.quote
    insert = (f"INSERT INTO {q(plan.table)} ({', '.join(q(c) for c in plan.columns)})"
              f" VALUES ({', '.join('?' for _ in plan.columns)})")
    positions = [plan.columns.index(k) for k in plan.key]
    digest = Digest(timezone)
    for rows in pages(src, src_impl, plan.table, plan.columns, plan.key, batch_rows):
        fitted = [row if plan.plain and PLAIN_TYPES.issuperset(map(type, row)) else
                  fit_row(row, plan.fit, plan.table, plan.columns, [row[p] for p in positions])
                  for row in rows]
        tx.executemany(insert, fitted)
        for row in fitted:
            digest.add(row)
        if progress is not None:
            progress(plan.table, digest.rows, expected)
    return digest


def pages(conn: Connection, impl: DefaultImpl, table: str, columns: Sequence[str],
          key: Sequence[str], batch_rows: int) -> Iterator[list[Any]]:
    """`columns` of every row of `table`, `batch_rows` at a time in `key` order (keyset
    paging: each page starts after the last key of the one before, so a million rows
    never sit in memory at once and no page is read twice)."""
    q = impl.quote
    select = f"SELECT {', '.join(q(c) for c in columns)} FROM {q(table)}"
    order = f" ORDER BY {', '.join(q(k) for k in key)} LIMIT {int(batch_rows)}"
    positions = [list(columns).index(k) for k in key]
    rows = conn.execute(select + order).fetchall()
    while rows:
        yield rows
        if len(rows) < batch_rows:
            return
        last = [rows[-1][p] for p in positions]
        clauses, params = [], []
        for i in range(len(key)):
            clauses.append("(" + " AND ".join(
                [f"{q(k)} = ?" for k in key[:i]] + [f"{q(key[i])} > ?"]) + ")")
            params += last[:i + 1]
        rows = conn.execute(f"{select} WHERE {' OR '.join(clauses)}{order}", params).fetchall()


def _verify(tx: Connection, impl: DefaultImpl, shown: str, plan: _TablePlan, expected: int,
            digest: Digest, timezone: str, batch_rows: int) -> None:
    """Read the copy back inside the write transaction: same count, same digest."""
    got = Digest(timezone)
    for rows in pages(tx, impl, plan.table, plan.columns, plan.key, batch_rows):
        for row in rows:
            got.add(row)
    count = _count(tx, impl, plan.table)
    if digest.rows != expected:
        raise StoreError(f"{plan.table}: {expected} rows in the source, {digest.rows} read",
                         ["rows without a primary key value cannot be copied; "
                          "nothing was written to the destination"])
    if count != expected or got.hexdigest() != digest.hexdigest():
        raise StoreError(
            f"the copy of {plan.table} in {shown} does not match the source",
            [f"rows: {expected} in the source, {count} copied; digests "
             f"{digest.hexdigest()[:16]} and {got.hexdigest()[:16]}",
             "the destination changed values it was given; nothing was written"])


def _count(conn: Connection, impl: DefaultImpl, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {impl.quote(table)}").fetchone()[0])


def _meta(conn: Connection, impl: DefaultImpl) -> dict[str, str]:
    q = impl.quote
    return {str(k): v for k, v in conn.execute(
        f"SELECT {q('key')}, {q('value')} FROM setright_meta").fetchall()}


def _live_locks(conn: Connection, now_iso: str) -> int:
    """Locks not yet expired when the snapshot was taken: someone may still be writing."""
    return int(conn.execute("SELECT count(*) FROM setright_locks WHERE expires_at > ?",
                            (now_iso,)).fetchone()[0])
