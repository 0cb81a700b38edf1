"""The ledger: which resolution-file entries were applied, when, by whom.

One row per applied entry, keyed by (resolution_file, entry_key), carrying the
file's canonical digest at apply time. It is read whole, in one pass, into a
`LedgerIndex` that `validate`, `plan` and `apply` consult for every loaded file
(cheaper than a query per file when there are thousands).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from setright.db import Connection, DbUrl
from setright.db.impl import DatabaseUnavailable, impl_for, impl_of
from setright.errors import StoreError, TransitionRefused

LEDGER_TABLE = "setright_ledger"


@dataclass(frozen=True)
class LedgerRow:
    """One applied entry. `outcome` is the plan outcome recorded (`change` or `satisfied`)."""

    resolution_file: str
    entry_key: str
    file_digest: str
    outcome: str | None = None
    plan_id: str | None = None
    commit_sha: str | None = None
    actor: str | None = None
    applied_at: str | None = None
    #: the pull request the apply came from (URL or `#N`), when CI said so
    pull_request: str | None = None


_COLUMNS = tuple(f.name for f in fields(LedgerRow))
#: columns added by a schema upgrade: a store opened read-only may predate them
_ADDED = ("pull_request",)


def _select(conn: Connection) -> str:
    """`SELECT` of every LedgerRow column, NULL for a column this store does not have yet."""
    present = set(impl_of(conn).column_names(conn, LEDGER_TABLE))
    columns = [c if c in present or c not in _ADDED else f"NULL AS {c}" for c in _COLUMNS]
    return f"SELECT {', '.join(columns)} FROM {LEDGER_TABLE}"


def _rows(cursor: Iterable[tuple[object, ...]]) -> list[LedgerRow]:
    return [LedgerRow(*row) for row in cursor]  # type: ignore[arg-type]


# -- point lookups (indexed) ------------------------------------------------


# -- the whole ledger, indexed in memory -------------------------------------


class LedgerIndex:
    """Every ledger row, indexed by file path and by digest."""

    def __init__(self, rows: Iterable[LedgerRow]) -> None:
        self._by_file: dict[str, dict[str, LedgerRow]] = {}
        self._by_digest: dict[str, set[str]] = {}
        for row in rows:
            self._by_file.setdefault(row.resolution_file, {})[row.entry_key] = row
            self._by_digest.setdefault(row.file_digest, set()).add(row.resolution_file)

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._by_file.values())

    def entry(self, resolution_file: str, entry_key: str) -> LedgerRow | None:
        return self._by_file.get(resolution_file, {}).get(entry_key)

    def rows_for_file(self, resolution_file: str) -> dict[str, LedgerRow]:
        """Entry key → row, for the entries applied under this path (empty if none)."""
        return dict(self._by_file.get(resolution_file, {}))

    def files_with_digest(self, file_digest: str) -> list[str]:
        """Paths whose applied rows carry this digest, sorted."""
        return sorted(self._by_digest.get(file_digest, ()))

    def files(self) -> list[str]:
        """Every path that has applied entries, sorted."""
        return sorted(self._by_file)


def read_ledger(conn: Connection) -> LedgerIndex:
    """Read the ledger once (three short columns per row plus provenance)."""
    return LedgerIndex(_rows(conn.execute(_select(conn))))


def read_ledger_at(store: DbUrl | Path, shown: str | None = None) -> LedgerIndex:
    """Read the ledger of an existing store without writing anything (no upgrade, no fold).

    For `validate`: a pre-commit hook must not create, migrate or lock the store.
    `shown` is the store's name in error messages (default: the path, or the URL).
    """
    url = store if isinstance(store, DbUrl) else DbUrl("sqlite", str(store), path=store)
    name = shown or (str(url.path) if url.is_sqlite else url.shown)
    impl = impl_for(url)
    try:
        conn = impl.connect(url, read_only=True)
    except DatabaseUnavailable as exc:
        if exc.missing:
            raise StoreError(f"cannot open the audit store {name}: it does not exist") from None
        raise StoreError(f"cannot read the ledger in {name}: {exc.cause}") from None
    try:
        if not impl.table_exists(conn, LEDGER_TABLE):
            raise StoreError(f"{name} is not a setright store (no {LEDGER_TABLE} table)")
        return read_ledger(conn)
    except Exception as exc:
        if not impl.is_error(exc):
            raise
        raise StoreError(f"cannot read the ledger in {name}: {exc}") from None
    finally:
        conn.close()


# -- writing ----------------------------------------------------------------


def record_ledger_entry(tx: Connection, row: LedgerRow) -> None:
    """Record one applied entry; the caller holds the write transaction.

    An entry already recorded is refused rather than overwritten: the ledger is
    history, and a second write means someone applied the same entry twice.
    """
    try:
        tx.execute(
            f"INSERT INTO {LEDGER_TABLE} ({', '.join(_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in _COLUMNS)})",
            astuple(row),
        )
    except Exception as exc:
        if not impl_of(tx).is_integrity_error(exc):
            raise
        raise TransitionRefused(
            f"the ledger already records entry {row.entry_key!r} of {row.resolution_file}",
            ["it was applied by someone else since this plan was made"],
        ) from None
