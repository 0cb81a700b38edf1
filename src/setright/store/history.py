"""What `setright history` lists: applied resolution-file entries and imperative writes.

Two sources, newest first in one list:

* the ledger: one row per applied resolution-file entry (`source: file`);
* `audit fix` and `redrive`: they write no ledger row (there is no file), but
  every event they write carries `source = 'cli'` and the one-entry plan's id,
  so one group of events per plan id is one entry (`source: cli`).

Each entry carries the events it wrote. Two queries whatever the size: the page
(filtered, ordered, limited, with the total count) and its events, fetched by
plan id in batches; never a query per row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from setright.db import Connection
from setright.db.impl import impl_of

_BATCH = 500  # plan ids per events query (well under SQLite's variable limit)

#: an event as history shows it, with the (reason, ticket) of the write that made it
_Event = tuple[dict[str, Any], tuple[str | None, str | None]]


@dataclass
class HistoryPage:
    rows: list[dict[str, Any]]
    #: entries that matched but were cut by the limit
    more: int


def _ledger_pr_column(conn: Connection) -> str:
    present = impl_of(conn).column_names(conn, "setright_ledger")
    return "l.pull_request" if "pull_request" in present else "NULL"


_PAGE = """
WITH entries AS (
  SELECT 'file' AS source, l.applied_at AS applied_at, {ledger_seq} AS seq,
         l.resolution_file, l.entry_key, l.file_digest, l.outcome, l.plan_id, l.commit_sha,
         l.actor, {ledger_pr} AS pull_request
    FROM setright_ledger l
   WHERE {ledger_where}
  UNION ALL
  SELECT 'cli', MIN(e.at), MIN(e.id), NULL,
         COALESCE('resolution:' || MAX(CASE WHEN e.kind = 'mark' THEN e.change_id END),
                  'redrive:' || MAX(CASE WHEN e.kind = 'apply' THEN e.apply_id END)),
         NULL, 'change', e.plan_id, NULL, MIN(e.actor), NULL
    FROM setright_events e
   WHERE e.source = 'cli' AND e.plan_id IS NOT NULL
   GROUP BY e.plan_id
  HAVING {cli_having}
)
SELECT source, applied_at, resolution_file, entry_key, file_digest, outcome, plan_id,
       commit_sha, actor, pull_request, COUNT(*) OVER () AS total
  FROM entries
 ORDER BY applied_at DESC, source DESC, seq DESC, entry_key DESC
"""


def _page_sql(conn: Connection, *, since: str | None, change_id: str | None,
              limit: int | None) -> tuple[str, list[Any]]:
    """The page query with only the filters asked for (portable `?` parameters)."""
    ledger, cli, params, having = ["1 = 1"], ["1 = 1"], [], []
    if since is not None:
        ledger.append("l.applied_at >= ?")
        params.append(since)
    if change_id is not None:
        ledger.append("(l.entry_key = 'resolution:' || ? OR l.plan_id IN ("
                      "SELECT e.plan_id FROM setright_events e WHERE e.change_id = ?"
                      " AND e.resolution = l.resolution_file || '#' || l.entry_key))")
        params += [change_id, change_id]
    if since is not None:
        cli.append("MIN(e.at) >= ?")
        having.append(since)
    if change_id is not None:
        cli.append("SUM(CASE WHEN e.change_id = ? THEN 1 ELSE 0 END) > 0")
        having.append(change_id)
    sql = _PAGE.format(ledger_pr=_ledger_pr_column(conn),
                       ledger_seq=impl_of(conn).row_order_sql("l"),
                       ledger_where=" AND ".join(ledger), cli_having=" AND ".join(cli))
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, params + having


def ledger_history(conn: Connection, *, limit: int | None = None,
                   change_id: str | None = None, since: str | None = None) -> HistoryPage:
    """Entries newest first, at most `limit` (None: all), each with the events it wrote.

    `change_id`: only entries that touched that change (marked it, or redrove an
    apply with one of its tasks). `since`: an ISO-8601 UTC time as the store writes
    them (`2026-11-22T00:00:00.000Z`); entries at or after it.
    """
    sql, params = _page_sql(conn, since=since, change_id=change_id, limit=limit)
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    total = rows[0].pop("total") if rows else 0
    for row in rows[1:]:
        del row["total"]
    events = _events(conn, sorted({r["plan_id"] for r in rows if r["plan_id"]}))
    # a file's reason and ticket hold for all its entries, satisfied ones (no event) too
    by_file = {(plan_id, ref.split("#", 1)[0]): found[0]
               for (plan_id, ref), found in events.items() if ref is not None}
    for row in rows:
        # cli events carry no resolution reference: (plan id, None) is the command's group
        key = (f"{row['resolution_file']}#{row['entry_key']}" if row["source"] == "file"
               else None)
        mine = events.get((row["plan_id"], key), [])
        _provenance(row, mine, by_file.get((row["plan_id"], row["resolution_file"])))
        row["events"] = [event for event, _ in mine]
    return HistoryPage(rows=rows, more=max(0, total - len(rows)))


def _events(conn: Connection,
            plan_ids: list[str]) -> dict[tuple[str, str | None], list[_Event]]:
    """Events of these plans by (plan id, resolution reference), in the order written, each
    with the (reason, ticket) its provenance carried."""
    out: dict[tuple[str, str | None], list[_Event]] = {}
    for start in range(0, len(plan_ids), _BATCH):
        batch = plan_ids[start:start + _BATCH]
        marks = ", ".join("?" for _ in batch)
        for (plan_id, at, apply_id, change_id, kind, old, new, reason, ticket, resolution,
             metadata) in conn.execute(
                "SELECT plan_id, at, apply_id, change_id, kind, old_state, new_state, reason,"
                " ticket, resolution, metadata FROM setright_events"
                f" WHERE plan_id IN ({marks}) ORDER BY id", batch):
            out.setdefault((plan_id, resolution), []).append(({
                "at": at, "kind": kind, "apply_id": apply_id, "change_id": change_id,
                "old_state": old, "new_state": new,
                "metadata": json.loads(metadata) if metadata else None}, (reason, ticket)))
    return out


def _provenance(row: dict[str, Any], events: list[_Event], file_event: _Event | None) -> None:
    """Reason, ticket and pull request of an entry, from the events it (or its file in the
    same plan) wrote: the ledger has no reason column. A plan of satisfied entries only wrote
    no event, so they stay None there."""
    event, (row["reason"], row["ticket"]) = (events[0] if events
                                             else file_event or ({}, (None, None)))
    if row["source"] == "cli":
        row["command"] = "audit fix" if row["entry_key"].startswith("resolution:") else "redrive"
        row["pull_request"] = (event.get("metadata") or {}).get("pull_request")
    else:
        row["command"] = None
