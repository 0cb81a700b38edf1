"""The audit log: appending rows the Flamingock way, and folding it into current state.

The current state of a change is its row with the latest `created_at`, ties
broken by state priority (Flamingock's rule); on an exact tie of both, the earlier
row (lower id) stays current, as Flamingock's `shouldBeReplacedBy` keeps it. The fold is a
maximum, so it can be maintained incrementally: `refresh_change_state` folds
only rows with `id > folded_audit_id` into `setright_change_state`, which is
how rows written by another runner are picked up without rescanning the log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from setright.db import Connection
from setright.db.impl import impl_of
from setright.errors import UnknownId
from setright.frozen import made_from
from setright.jsontext import sorted_json
from setright.store.schema import AUDIT_COLUMN_NAMES, set_meta
from setright.store.states import MANUAL_MARK, ChangeState
from setright.store.transitions import Provenance
from setright.timeutil import iso_from_ms, ms_from_any

_PRIORITY_SQL = "CASE state " + " ".join(
    f"WHEN '{s.value}' THEN {s.priority}" for s in ChangeState
) + " ELSE 0 END"


#: what a summary strips and counts as blank: ASCII white space only, as every backend's
#: SQL can say exactly (Unicode's wider set differs between Python and the servers)
SUMMARY_BLANKS = " \t\r\n\f\v"


def error_summary(trace: str | None, limit: int = 160) -> str | None:
    """First non-blank line of an error trace (lines end at CR or LF), stripped of ASCII
    white space, shortened for tables; '' for a trace of white space alone."""
    if not trace:
        return None
    lines = str(trace).replace("\r", "\n").split("\n")
    line = next((kept for ln in lines if (kept := ln.strip(SUMMARY_BLANKS))), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _iso_or_none(value: object) -> str | None:
    ms = ms_from_any(value)
    return iso_from_ms(ms) if ms is not None else None


#: Python functions the store's SQL hooks may call (`impl.audit_ms_sql`, `iso_from_ms_sql`,
#: `error_summary_sql`); `Store` hands them to `impl.prepare_store` (SQLite registers them).
SQL_FUNCTIONS = {
    "setright_ms": ms_from_any,
    "setright_iso": _iso_or_none,
    "setright_summary": error_summary,
}


def refresh_change_state(tx: Connection, audit_table: str) -> int:
    """Fold audit rows newer than `folded_audit_id` into the cache; return how many were read."""
    folded, top = _refresh(tx, audit_table)
    return top - folded


def _ids(tx: Connection, audit_table: str) -> tuple[int, int | None]:
    """(`folded_audit_id`, the audit log's highest id), in one round trip."""
    impl = impl_of(tx)
    known, top = tx.execute(
        f"SELECT (SELECT value FROM setright_meta WHERE {impl.quote('key')} = 'folded_audit_id'),"
        f" (SELECT max(id) FROM {impl.quote(audit_table)})").fetchone()
    return int(known or 0), (int(top) if top is not None else None)


def _refresh(tx: Connection, audit_table: str) -> tuple[int, int]:
    """`refresh_change_state`'s work: (`folded_audit_id` before, the id folded up to now).
    On a server, the `fold_lookback_ids` below the folded point are folded again too."""
    folded, top = _ids(tx, audit_table)
    impl = impl_of(tx)
    lookback = impl.fold_lookback_ids
    if top is None or (top <= folded and not lookback):
        return folded, folded
    fold_audit_rows(tx, audit_table, max(0, folded - lookback), max(top, folded))
    if top <= folded:
        return folded, folded
    # A large fold (a store's first, over an existing log): readers plan with fresh statistics.
    impl.refresh_statistics(tx, "setright_change_state", top - folded)
    set_meta(tx, "folded_audit_id", str(top))
    return folded, int(top)


def fold_audit_rows(conn: Connection, audit_table: str, after_id: int, upto_id: int) -> None:
    """Fold audit rows `after_id < id <= upto_id` into `setright_change_state`.

    The one fold: a writer's cache refresh and a reader's in-memory fold
    (a private copy of the cache, store/reader.py) both run this statement.
    An unreadable `created_at` folds as -1 ms (it never beats a readable one).
    The ranking sorts only (change, time, priority, id); the winning rows' other
    columns are then read by id, so the sort does not carry every row's error trace.
    """
    impl = impl_of(conn)
    table = impl.quote(audit_table)
    ms = f"coalesce({impl.audit_ms_sql(conn, audit_table, 'created_at')}, -1)"
    select = f"""
        SELECT a.change_id AS change_id, a.id AS audit_id, a.state AS state,
               ranked.prio AS priority, {impl.iso_from_ms_sql('ranked.ms')} AS created_at,
               ranked.ms AS created_ms, a.target_system_id AS target_system_id,
               a.tx_strategy AS tx_strategy, a.recovery_strategy AS recovery_strategy,
               a.execution_id AS execution_id,
               {impl.error_summary_sql('a.error_trace')} AS error_summary
        FROM (
            SELECT id, ms, prio, row_number() OVER (
                       PARTITION BY {impl.exact_text_sql('change_id')}
                       ORDER BY ms DESC, prio DESC, id ASC) AS rn
            FROM (SELECT id, change_id, {ms} AS ms, {_PRIORITY_SQL} AS prio
                  FROM {table} WHERE id > ? AND id <= ? AND change_id IS NOT NULL) folded
        ) ranked
        JOIN {table} a ON a.id = ranked.id
        WHERE ranked.rn = 1"""
    conn.execute(impl.upsert_select_sql("setright_change_state", _FOLD_COLUMNS, ("change_id",),
                                        select, ("created_ms", "priority", "-audit_id")),
                 (after_id, upto_id))


def beats_the_cache(conn: Connection, audit_table: str, after_id: int, upto_id: int) -> bool:
    """Whether an audit row `after_id < id <= upto_id` would change `setright_change_state`
    if folded (a row committed late below the folded point, `fold_lookback_ids`): its change
    is missing there, or the row is newer by the fold's own order."""
    impl = impl_of(conn)
    ms = f"coalesce({impl.audit_ms_sql(conn, audit_table, 'a.created_at')}, -1)"
    prio = _PRIORITY_SQL.replace("CASE state ", "CASE a.state ", 1)
    row = conn.execute(
        f"SELECT 1 FROM {impl.quote(audit_table)} a"
        " LEFT JOIN setright_change_state cs ON cs.change_id = a.change_id"
        " WHERE a.id > ? AND a.id <= ? AND a.change_id IS NOT NULL AND (cs.change_id IS NULL"
        f" OR {ms} > cs.created_ms OR ({ms} = cs.created_ms AND ({prio} > cs.priority"
        f" OR ({prio} = cs.priority AND a.id < cs.audit_id))))"
        " LIMIT 1", (after_id, upto_id)).fetchone()
    return row is not None


_FOLD_COLUMNS = ("change_id", "audit_id", "state", "priority", "created_at", "created_ms",
                 "target_system_id", "tx_strategy", "recovery_strategy", "execution_id",
                 "error_summary")


@dataclass(frozen=True)
class CurrentState:
    """One row of `setright_change_state`: the folded current state of a change."""

    change_id: str
    audit_id: int
    state: str
    created_at: str | None
    created_ms: int
    target_system_id: str | None
    tx_strategy: str | None
    recovery_strategy: str | None
    execution_id: str | None
    error_summary: str | None


_CURRENT_COLUMNS = ("change_id, audit_id, state, created_at, created_ms, target_system_id,"
                    " tx_strategy, recovery_strategy, execution_id, error_summary")


def current_state(conn: Connection, change_id: str) -> CurrentState | None:
    row = conn.execute(
        f"SELECT {_CURRENT_COLUMNS} FROM setright_change_state WHERE change_id = ?", (change_id,)
    ).fetchone()
    return made_from(CurrentState, row) if row else None


def audit_row(conn: Connection, audit_table: str, audit_id: int) -> dict[str, Any]:
    cursor = conn.execute(f"SELECT * FROM {impl_of(conn).quote(audit_table)} WHERE id = ?",
                          (audit_id,))
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    if row is None:
        # the cache names it, so it was folded, then deleted by hand
        raise UnknownId(f"audit row {audit_id} is no longer in the audit table {audit_table}",
                        ["it was deleted outside setright after it was folded; run "
                         "'setright store refold' to fold the audit log again"])
    return dict(zip(names, row, strict=True))


def next_created_ms(tx: Connection, change_id: str, now_ms: int, step_ms: int = 1) -> int:
    """`max(now, latest created_at of that change + one step)`, a step being the precision the
    audit table keeps (1 ms; a whole second in Flamingock's MySQL TIMESTAMP), and `now`
    cut to that precision: the fold can never be reordered."""
    row = tx.execute("SELECT created_ms FROM setright_change_state WHERE change_id = ?",
                     (change_id,)).fetchone()
    now_ms -= now_ms % step_ms
    return max(now_ms, row[0] + step_ms) if row and row[0] is not None else now_ms


def append_audit_row(
    tx: Connection, audit_table: str, row: Mapping[str, Any], *, now_ms: int,
    provenance: Mapping[str, Any] | None = None,
) -> int:
    """Insert one audit row (inside a write transaction) and fold it; return its id.
    `created_at` is always chosen here, never by the caller; setright's provenance
    goes into `metadata` under the key "setright" so Flamingock keeps reading it."""
    return append_audit_rows(tx, audit_table, [(row, provenance)], now_ms=now_ms)[0]


def append_audit_rows(
    tx: Connection, audit_table: str,
    rows: Sequence[tuple[Mapping[str, Any], Mapping[str, Any] | None]], *, now_ms: int,
) -> list[int]:
    """`append_audit_row` for several (row, provenance) pairs in order, folded once.

    The cache is brought up to date first (rows of others decide `created_at`);
    a row whose change already has a row in the batch comes one step after it.
    Then the ids up to the last new row are folded, without asking for them again.
    """
    _, folded = _refresh(tx, audit_table)
    ids = _insert_rows(tx, audit_table, rows, now_ms, {})
    if ids:
        # The fold is a maximum: folding a row twice changes nothing, so the range may
        # start below the new rows (an id a concurrent writer took first is folded too).
        low, high = min(folded, min(ids) - 1), max(folded, *ids)
        fold_audit_rows(tx, audit_table, low, high)
        if high > folded:
            set_meta(tx, "folded_audit_id", str(high))
    return ids


def _insert_rows(tx: Connection, audit_table: str,
                 rows: Sequence[tuple[Mapping[str, Any], Mapping[str, Any] | None]],
                 now_ms: int, unfolded: dict[str, int],
                 cached: Mapping[str, int | None] | None = None) -> list[int]:
    """Insert `rows`; `unfolded` maps a change to the `created_ms` of its newest row the
    cache lacks (a new row comes one step after it) and is kept up to date here.
    `cached`: a change's `created_ms` in the cache (None: no row) as this transaction
    already read it, so it is not read again."""
    impl = impl_of(tx)
    table = impl.quote(audit_table)
    step = impl.created_at_step_ms(tx, audit_table)
    cached, ids = cached or {}, []
    for row, provenance in rows:
        change_id = str(row["change_id"])
        # a row of exactly the written columns (the runner's) is taken as it is
        values = row if row.keys() == _GIVEN_COLUMNS else {
            name: row.get(name) for name in _WRITTEN_COLUMNS}
        earlier = unfolded.get(change_id)
        if earlier is None and change_id not in cached:
            created_ms = next_created_ms(tx, change_id, now_ms, step)
        else:
            earlier = cached[change_id] if earlier is None else earlier
            now = now_ms - now_ms % step
            created_ms = now if earlier is None else max(now, earlier + step)
        unfolded[change_id] = created_ms
        if provenance is not None:
            values = {**values, "metadata": setright_metadata(row.get("metadata"), provenance)}
        values = impl.audit_write_values(tx, audit_table, values, created_ms)
        columns = tuple(values)
        sql = _INSERT_SQL.get((table, columns)) or _INSERT_SQL.setdefault(
            (table, columns), f"INSERT INTO {table} ({', '.join(columns)})"
                              f" VALUES ({', '.join('?' for _ in columns)})")
        ids.append(impl.insert_returning_id(tx, sql, list(values.values())))
    return ids


#: the audit columns a new row is written with (its `id` is the database's); the INSERT
#: per table and column list, built once (a runner inserts two rows per change)
_WRITTEN_COLUMNS = tuple(name for name in AUDIT_COLUMN_NAMES if name != "id")
_GIVEN_COLUMNS = frozenset(_WRITTEN_COLUMNS) - {"created_at"}   # what a caller may give
_INSERT_SQL: dict[tuple[str, tuple[str, ...]], str] = {}
_UNREAD = object()  # `catch_up` reads the highest id itself


class OwnAuditRows:
    """The audit rows one writer appends over many transactions (a runner's apply),
    folded into the cache when it is done instead of row by row.

    Until `fold`, the cache lacks only this writer's own rows: every transaction
    that reads the cache or appends starts with `catch_up`, which folds at once
    whatever anyone else wrote (with ours). Another writer's row is noticed by
    the highest id: it is not ours, or our next id does not follow our last.
    `created_at` of our unfolded rows is remembered here, so a change's next row
    still comes after its last. Nothing depends on the cache being folded: every
    writer refreshes before it reads it and every reader folds in memory what it
    lacks, so a runner killed before `fold` leaves only work for the next refresh.
    """

    def __init__(self, audit_table: str) -> None:
        self.audit_table = audit_table
        self._top: int | None = None          # every row up to this id is folded, or ours
        self._unfolded: dict[str, int] = {}   # change id → created_ms of its newest own row
        #: change id → its `created_ms` in the cache (None: no row), read in this transaction
        self._cached: dict[str, int | None] = {}

    def catch_up(self, tx: Connection, top: Any = _UNREAD) -> None:
        """Fold what others wrote since our last row (and ours with it), if anything.
        `top`: the log's highest id (`top_sql`) as the transaction already read it."""
        self._cached.clear()  # read in an earlier transaction: another writer may have moved it
        top = _ids(tx, self.audit_table)[1] if top is _UNREAD and self._top is not None else top
        if self._top is None or (int(top) if top is not None else None) != self._top:
            self.fold(tx)

    def top_sql(self, tx: Connection) -> str:
        """A scalar subquery of the log's highest id, for a caller's first read of a write."""
        return f"(SELECT max(id) FROM {impl_of(tx).quote(self.audit_table)})"

    def seen(self, change_id: str, current: CurrentState | None) -> None:
        """The cache's row of a change (None: none), read after `catch_up` in the transaction
        that appends: its next row's `created_at` follows it without reading it again."""
        self._cached[change_id] = current.created_ms if current is not None else None

    def append(self, tx: Connection,
               rows: Sequence[tuple[Mapping[str, Any], Mapping[str, Any] | None]], *,
               now_ms: int) -> list[int]:
        """Insert rows after `catch_up` in the same transaction; they stay unfolded."""
        ids = _insert_rows(tx, self.audit_table, rows, now_ms, self._unfolded, self._cached)
        for audit_id in ids:
            follows = self._top is not None and audit_id == self._top + 1
            self._top = audit_id if follows else None   # a gap: someone else's id, fold
        return ids

    def fold(self, tx: Connection) -> None:
        """Fold every row written so far, ours included."""
        self._top = _refresh(tx, self.audit_table)[1]
        self._unfolded.clear()
        self._cached.clear()


def mark_change(
    tx: Connection, audit_table: str, change_id: str, resolution: str,
    prov: Provenance, *, now_ms: int, execution_id: str,
) -> tuple[str, int]:
    """Append a manual mark the way Flamingock's `audit fix` does; return (old state, row id).

    The mark copies the current row's other fields, with a new `execution_id` (the
    caller's, a fresh UUID as Flamingock writes), `author` = the actor and an empty
    `error_trace` ('' rather than NULL, as Flamingock writes it).
    """
    refresh_change_state(tx, audit_table)
    current = current_state(tx, change_id)
    if current is None:
        raise UnknownId(f"no change {change_id!r} in the audit store")
    fixed = audit_row(tx, audit_table, current.audit_id)
    import socket

    new_state = MANUAL_MARK[resolution]
    row = {**fixed, "execution_id": execution_id, "author": prov.actor,
           "state": new_state.value, "error_trace": "",
           "execution_hostname": socket.gethostname()}
    audit_id = append_audit_row(tx, audit_table, row, now_ms=now_ms,
                                provenance=provenance_metadata(prov))
    return current.state, audit_id


def provenance_metadata(prov: Provenance) -> dict[str, Any]:
    data = {"actor": prov.actor, "source": prov.source, "reason": prov.reason,
            "ticket": prov.ticket, "resolution": prov.resolution, "plan_id": prov.plan_id,
            **prov.metadata}
    return {key: value for key, value in data.items() if value is not None}


def setright_metadata(existing: object, provenance: Mapping[str, Any]) -> str:
    """A row's `metadata` text with setright's provenance under the key "setright"."""
    try:
        data = json.loads(existing) if isinstance(existing, str) and existing else {}
    except json.JSONDecodeError:
        data = {"original": existing}
    if not isinstance(data, dict):
        data = {"original": data}
    data["setright"] = dict(provenance)
    return sorted_json(data)
