"""What changed in a target's schema since its apply failed, in words.

The failure-time snapshot (recorded with the failure) and a live one are
compared with DeepDiff. Each difference becomes one line:

* an **addition** — something the failure-time schema did not have ("table
  legacy_items added", "column items.note added"): usually the operator's fix,
  shown but harmless to a redrive;
* a **loss** — something present at failure time that is gone or different
  ("index items_sku dropped since the apply failed", "column items.sku altered
  since the apply failed: type TEXT → INTEGER"): the failed work's completed
  part may no longer be there, so resuming it would build on a schema nobody
  reviewed. A redrive with a loss is a conflict unless its entry accepts drift.

Snapshots are normalised first so DeepDiff reports objects, not list positions:
an index's columns become one ordered string (a column order change is an
alteration), foreign keys a set keyed by their text. DeepDiff is told always to
diff dicts key by key: by default a dict sharing under a third of its keys
(a target's only table renamed, a table's only column or index) is one changed
value, which would read "tables altered" and name neither side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from setright.db import Connection
    from setright.runner.snapshots import LiveSnapshot

SINCE = "since the apply failed"
_NOUNS = {"views": "view", "triggers": "trigger"}
_PARTS = {"columns": "column", "indexes": "index", "constraints": "constraint",
          "foreign_keys": "foreign key"}


@dataclass(frozen=True)
class SchemaDrift:
    """The differences between two snapshots, as lines, additions apart from losses."""

    added: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return [*self.lost, *self.added]

    def __bool__(self) -> bool:
        return bool(self.added or self.lost)


def _normal(schema: dict[str, Any]) -> dict[str, Any]:
    tables = {}
    for name, table in (schema.get("tables") or {}).items():
        entry = dict(table)
        entry["indexes"] = {
            index: {**spec, "columns": ", ".join(str(c) for c in spec.get("columns") or [])}
            for index, spec in (table.get("indexes") or {}).items()}
        entry["foreign_keys"] = {str(fk): True for fk in table.get("foreign_keys") or []}
        tables[name] = entry
    return {"tables": tables, "views": dict(schema.get("views") or {}),
            "triggers": dict(schema.get("triggers") or {})}


def schema_drift(before: dict[str, Any], after: dict[str, Any]) -> SchemaDrift:
    """How `after` (live) differs from `before` (failure time), one line per difference."""
    from deepdiff import DeepDiff  # lazy: deepdiff is slow to import

    diff = DeepDiff(_normal(before), _normal(after), view="tree",
                    threshold_to_diff_deeper=0)   # every key added or removed by name
    added: set[str] = set()
    lost: set[str] = set()
    for kind, levels in diff.items():
        for level in levels:
            path = level.path(output_format="list")
            line, is_addition = _describe(kind, path, level.t1, level.t2)
            if is_addition:
                added.add(line)
            else:   # "index x altered: columns a → b" → "index x altered since …: columns …"
                head, colon, detail = line.partition(": ")
                lost.add(f"{head} {SINCE}{colon}{detail}")
    return SchemaDrift(sorted(added), sorted(lost))


def _describe(kind: str, path: list[Any], old: Any, new: Any) -> tuple[str, bool]:
    """One difference in words, and whether it is an addition."""
    if kind == "dictionary_item_added" or kind == "iterable_item_added":
        verb, addition = "added", True
    elif kind == "dictionary_item_removed" or kind == "iterable_item_removed":
        verb, addition = "dropped", False
    else:
        verb, addition = "altered", False
    if not path:
        return f"schema {verb}", addition
    top = path[0]
    if top in _NOUNS and len(path) >= 2:
        return f"{_NOUNS[top]} {path[1]} {verb}", addition
    if top != "tables" or len(path) < 2:
        return f"{'.'.join(str(p) for p in path)} {verb}", addition
    table = path[1]
    if len(path) == 2:
        return f"table {table} {verb}", addition
    part = path[2]
    if part == "has_check":
        gained = bool(new) and not bool(old)
        return (f"check constraint on {table} {'added' if gained else 'dropped'}", gained)
    noun = _PARTS.get(part)
    if noun is None or len(path) < 4:
        return f"table {table} altered: {part} {_change(old, new)}", False
    name = path[3]
    # Index names are unique in a schema (MySQL's per table: its PRIMARY gets the table).
    subject = {"columns": f"column {table}.{name}",
               "indexes": f"index {name}" if name != "PRIMARY" else f"primary key of {table}",
               }.get(part, f"{noun} {name} on {table}")
    if len(path) == 4:
        return f"{subject} {verb}", addition
    detail = ".".join(str(p) for p in path[4:])
    return f"{subject} altered: {detail} {_change(old, new)}", False


def _change(old: Any, new: Any) -> str:
    def shown(value: Any) -> str:
        if value is None or value.__class__.__name__ == "NotPresent":
            return "none"
        text = value if isinstance(value, str) else repr(value)
        return text if len(text) <= 60 else text[:59] + "…"

    return f"{shown(old)} → {shown(new)}"


@dataclass(frozen=True)
class DriftReport:
    """A failed apply's target now against its failure time: the drift, or why there is
    none to show (`problem`: no failure-time snapshot, or the target cannot be read)."""

    drift: SchemaDrift | None
    problem: str | None = None
    unreachable: bool = False


def drift_since_failure(conn: Connection, apply_id: str, target: str,
                        live: LiveSnapshot) -> DriftReport:
    """Compare the snapshot recorded when `apply_id` failed with `live` (its target now)."""
    from setright.store.snapshots import failure_snapshot

    if live.schema is None:
        return DriftReport(None, f"target {target} cannot be reached to compare its schema "
                           f"with the failure time: {live.error}", unreachable=True)
    recorded = failure_snapshot(conn, apply_id)
    if recorded is None:
        return DriftReport(None, f"no failure-time snapshot of apply {apply_id}: drift of "
                           f"the schema of {target} since the failure cannot be checked")
    return DriftReport(schema_drift(recorded.schema, live.schema))
