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
  SELECT 'file' AS source, l.applied_at AS applied_at, l.rowid AS seq,
         l.resolution_file, l.entry_key, l.file_digest, l.outcome, l.plan_id, l.commit_sha,
         l.actor, {ledger_pr} AS pull_request
    FROM setright_ledger l
   WHERE (:since IS NULL OR l.applied_at >= :since)
     AND (:change IS NULL OR l.entry_key = 'resolution:' || :change
          OR l.plan_id IN (SELECT e.plan_id FROM setright_events e
                            WHERE e.change_id = :change
                              AND e.resolution = l.resolution_file || '#' || l.entry_key))
  UNION ALL
  SELECT 'cli', MIN(e.at), MIN(e.id), NULL,
         COALESCE('resolution:' || MAX(CASE WHEN e.kind = 'mark' THEN e.change_id END),
                  'redrive:' || MAX(CASE WHEN e.kind = 'apply' THEN e.apply_id END)),
         NULL, 'change', e.plan_id, NULL, MIN(e.actor), NULL
    FROM setright_events e
   WHERE e.source = 'cli' AND e.plan_id IS NOT NULL
   GROUP BY e.plan_id
  HAVING (:since IS NULL OR MIN(e.at) >= :since)
     AND (:change IS NULL OR SUM(e.change_id = :change) > 0)
)
SELECT source, applied_at, resolution_file, entry_key, file_digest, outcome, plan_id,
       commit_sha, actor, pull_request, COUNT(*) OVER () AS total
  FROM entries
 ORDER BY applied_at DESC, source DESC, seq DESC
 LIMIT :limit
"""


def ledger_history(conn: Connection, *, limit: int | None = None,
                   change_id: str | None = None, since: str | None = None) -> HistoryPage:
    """Entries newest first, at most `limit` (None: all), each with the events it wrote.

    `change_id`: only entries that touched that change (marked it, or redrove an
    apply with one of its tasks). `since`: an ISO-8601 UTC time as the store writes
    them (`2026-11-22T00:00:00.000Z`); entries at or after it.
    """
    cursor = conn.execute(_PAGE.format(ledger_pr=_ledger_pr_column(conn)),
                          {"since": since, "change": change_id,
                           "limit": -1 if limit is None else int(limit)})
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
