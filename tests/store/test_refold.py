"""`store refold`: the whole audit log folded again after hand edits the incremental fold
cannot see (a folded row deleted, a row inserted below the folded point)."""

from __future__ import annotations

from setright.store import Store
from setright.store.audit import current_state
from setright.store.refold import CurrentMove, refold
from setright.store.transitions import Provenance
from storehelp import T0, audit

_OPS = Provenance(actor="ops@example.com", source="cli")


def _hand_delete(store: Store, *audit_ids: int) -> None:
    with store.write(state=False) as tx:
        for audit_id in audit_ids:
            tx.execute(f"DELETE FROM {store.impl.quote(store.audit_table)} WHERE id = ?",
                       (audit_id,))


def _folded_store(store: Store) -> None:
    """Rows 1–5 folded: c1 FAILED then APPLIED, c2 FAILED, c9 STARTED, c5 APPLIED."""
    for change_id, state, at in (("c1", "FAILED", T0), ("c1", "APPLIED", T0 + 5),
                                 ("c2", "FAILED", T0), ("c9", "STARTED", T0),
                                 ("c5", "APPLIED", T0)):
        audit(store, change_id, state, at_ms=at)
    store.refresh()


def test_refold_sees_deleted_rows_and_rows_inserted_below_the_cursor(backend_store: Store
                                                                     ) -> None:
    store = backend_store
    _folded_store(store)
    _hand_delete(store, 2, 3, 4)                                # c1's APPLIED, c2, c9
    store.refresh()
    assert current_state(store.conn, "c1").audit_id == 2       # the incremental fold misses it
    # in c9's old place (PostgreSQL's look-back may fold it at once; SQLite never does)
    audit(store, "c3", "APPLIED", at_ms=T0, audit_id=4)
    serial = store.serial

    result = refold(store, _OPS)

    # PostgreSQL's look-back folds c3 before the refold compares (so it did not move there)
    looked_back = bool(store.impl.fold_lookback_ids)
    assert result.moved == [CurrentMove("c1", (2, "APPLIED"), (1, "FAILED")),
                            CurrentMove("c2", (3, "FAILED"), None),
                            *([] if looked_back else [CurrentMove("c3", None, (4, "APPLIED"))]),
                            CurrentMove("c9", (4, "STARTED"), None)]
    assert (result.audit_rows, result.changes, result.serial) == (3, 3, serial + 1)
    assert {c: current_state(store.conn, c) and current_state(store.conn, c).audit_id
            for c in ("c1", "c2", "c3", "c5", "c9")} == {
        "c1": 1, "c2": None, "c3": 4, "c5": 5, "c9": None}
    assert store.meta("folded_audit_id") == "5"
    events = store.conn.execute(
        "SELECT change_id, kind, old_state, new_state, actor, source FROM setright_events"
        " WHERE kind = 'refold' ORDER BY change_id").fetchall()
    assert [tuple(e) for e in events] == [
        (m.change_id, "refold", m.before and m.before[1], m.after and m.after[1],
         "ops@example.com", "cli") for m in result.moved]


def test_a_refold_of_an_unedited_log_moves_nothing(backend_store: Store) -> None:
    store = backend_store
    _folded_store(store)
    cache = store.conn.execute("SELECT * FROM setright_change_state ORDER BY change_id"
                               ).fetchall()
    result = refold(store, _OPS)
    assert (result.moved, result.audit_rows, result.changes) == ([], 5, 4)
    assert store.conn.execute("SELECT * FROM setright_change_state ORDER BY change_id"
                              ).fetchall() == cache
    assert store.conn.execute("SELECT count(*) FROM setright_events WHERE kind = 'refold'"
                              ).fetchone()[0] == 0


def test_a_refold_of_an_emptied_log_empties_the_cache(store: Store) -> None:
    _folded_store(store)
    _hand_delete(store, 1, 2, 3, 4, 5)
    result = refold(store, _OPS)
    assert [m.change_id for m in result.moved] == ["c1", "c2", "c5", "c9"]
    assert store.conn.execute("SELECT count(*) FROM setright_change_state").fetchone()[0] == 0
    assert store.meta("folded_audit_id") == "0"
    audit(store, "c1", "APPLIED")      # SQLite may give id 1 again: it is folded
    assert current_state(store.conn, "c1").state == "APPLIED"


def test_rows_not_yet_folded_are_progress_not_moves(backend_store: Store) -> None:
    """A runner folds its rows at the end of an apply: a refold in between folds them first,
    so they do not show as moved (before: each was listed and recorded as a refold event)."""
    store = backend_store
    _folded_store(store)
    new = audit(store, "c1", "ROLLED_BACK", at_ms=T0 + 10)      # appended, not folded
    fresh = audit(store, "c7", "STARTED", at_ms=T0)
    result = refold(store, _OPS)
    assert result.moved == []
    assert (current_state(store.conn, "c1").audit_id, current_state(store.conn, "c7").audit_id
            ) == (new, fresh)


def test_ids_of_zero_and_below_are_folded_too(store: Store) -> None:
    """A hand-written id 0 or -4 lies below every fold's range; a refold reads every id."""
    audit(store, "a", "APPLIED", at_ms=T0, audit_id=5)
    audit(store, "a", "FAILED", at_ms=T0 + 9, audit_id=0)
    audit(store, "b", "FAILED", at_ms=T0, audit_id=-4)
    result = refold(store, _OPS)
    assert result.moved == [CurrentMove("a", (5, "APPLIED"), (0, "FAILED")),
                            CurrentMove("b", None, (-4, "FAILED"))]
    assert store.meta("folded_audit_id") == "5"
