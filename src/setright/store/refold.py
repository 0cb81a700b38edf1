"""`setright store refold`: fold the whole audit log again, after it was edited by hand.

The change-state cache is folded incrementally (rows with `id > folded_audit_id`,
store/audit.py), which trusts the audit log to grow only by appends, as Flamingock
and setright write it. A row deleted by hand, or inserted with an id below the
folded point, is not seen until the log is folded whole again. This module does
that in one write transaction: the cache is emptied, every audit row is folded,
the cursor is set to the log's highest id, and each change whose current row moved
is returned and recorded as a `refold` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from setright.db import Connection
from setright.store.audit import fold_audit_rows, refresh_change_state
from setright.store.connection import Store
from setright.store.schema import set_meta
from setright.store.transitions import EventBatch, Provenance

#: a change's current row as the cache holds it: (audit id, state)
_Current = tuple[int, str]


@dataclass(frozen=True)
class CurrentMove:
    """A change whose current audit row is another one after the refold."""

    change_id: str
    before: _Current | None   # None: the change had no current row (rows inserted by hand)
    after: _Current | None    # None: every row of the change is gone from the log

    def as_dict(self) -> dict[str, Any]:
        def side(current: _Current | None) -> dict[str, Any] | None:
            return None if current is None else {"audit_id": current[0], "state": current[1]}

        return {"change_id": self.change_id, "before": side(self.before),
                "after": side(self.after)}


@dataclass(frozen=True)
class RefoldResult:
    store: str
    audit_rows: int
    changes: int
    moved: list[CurrentMove]
    serial: int

    def as_dict(self) -> dict[str, Any]:
        return {"store": self.store, "audit_rows": self.audit_rows, "changes": self.changes,
                "moved": [m.as_dict() for m in self.moved], "serial": self.serial}


def refold(store: Store, prov: Provenance) -> RefoldResult:
    """Rebuild `setright_change_state` from the whole audit log, in one transaction."""
    table = store.impl.quote(store.audit_table)
    with store.write() as tx:
        # First the incremental fold, in this transaction: rows a runner appended since are
        # its progress, not a hand edit, and must not show as moved.
        refresh_change_state(tx, store.audit_table)
        before = _current_rows(tx)
        rows, low, top = tx.execute(f"SELECT count(*), min(id), max(id) FROM {table}").fetchone()
        tx.execute("DELETE FROM setright_change_state")
        if top is not None:   # every id, a hand-written 0 or negative one included
            fold_audit_rows(tx, store.audit_table, int(low) - 1, int(top))
        set_meta(tx, "folded_audit_id", str(max(0, int(top or 0))))
        after = _current_rows(tx)
        moved = [CurrentMove(change_id, before.get(change_id), after.get(change_id))
                 for change_id in sorted(before.keys() | after.keys())
                 if before.get(change_id) != after.get(change_id)]
        events, at = EventBatch(), store.now_iso()
        for move in moved:
            events.add(at=at, kind="refold", prov=prov, change_id=move.change_id,
                       old_state=move.before[1] if move.before else None,
                       new_state=move.after[1] if move.after else None,
                       extra={"audit_id_before": move.before[0] if move.before else None,
                              "audit_id_after": move.after[0] if move.after else None})
        events.flush(tx)
        store.impl.refresh_statistics(tx, "setright_change_state", len(after))
    return RefoldResult(store=store.where, audit_rows=int(rows), changes=len(after),
                        moved=moved, serial=store.serial)


def _current_rows(tx: Connection) -> dict[str, _Current]:
    """Every change's current (audit id, state), in one query."""
    return {change_id: (int(audit_id), state) for change_id, audit_id, state in tx.execute(
        "SELECT change_id, audit_id, state FROM setright_change_state")}
