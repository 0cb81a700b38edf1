"""`fresh_plan` and `find_drift`: pure reads of what a new apply would run now."""

from __future__ import annotations

from pathlib import Path

import pytest

from runhelp import Project, state_rows
from setright.runner.changes import load_all
from setright.runner.fresh_plan import find_drift, fresh_plan
from setright.store.audit import mark_change
from setright.store.transitions import Provenance
from setright.timeutil import FixedClock
from storehelp import T0, audit


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path / "p")
    p.change("_0001__a", apply="CREATE TABLE a (id INTEGER)")
    p.change("_0002__b", apply="CREATE TABLE b (id INTEGER);\nINSERT INTO b VALUES (1);")
    p.change("_0003__c", transactional=False, apply="CREATE TABLE c (id INTEGER)")
    return p


def plan_of(project: Project, store):  # type: ignore[no-untyped-def]
    config = project.config()
    return fresh_plan(store.conn, load_all(config)["app"], "app", root=config.root)


def test_lists_pending_changes_in_order_with_checksums_and_hashes(project: Project) -> None:
    store = project.open_store(FixedClock(T0))
    changes = {c.id: c for c in load_all(project.config())["app"]}
    plan = plan_of(project, store)
    assert [c.change_id for c in plan.changes] == ["a", "b", "c"]
    b = plan.changes[1]
    assert b.checksum == changes["b"].checksum
    assert b.operations == tuple((op.seq, op.hash) for op in changes["b"].operations)
    assert [seq for seq, _ in b.operations] == [1, 2]
    assert b.source_file == "changes/app/_0002__b.yaml" and b.current_state is None
    assert plan.fingerprint().startswith("dh1:")
    assert plan.fingerprint() == plan_of(project, store).fingerprint()
    data = plan.as_dict()
    assert data["fingerprint"] == plan.fingerprint() and data["changes"][2]["transactional"] is False


def test_writes_nothing(project: Project) -> None:
    store = project.open_store(FixedClock(T0))
    audit(store, "a", "FAILED", target="app")
    before = state_rows(store), store.serial, store.conn.total_changes
    plan_of(project, store)
    find_drift(store.conn, load_all(project.config())["app"], "app")
    assert (state_rows(store), store.serial, store.conn.total_changes) == before


def test_only_applied_and_marked_applied_changes_are_done(project: Project) -> None:
    store = project.open_store(FixedClock(T0))
    audit(store, "a", "APPLIED", target="app")
    audit(store, "b", "FAILED", target="app")
    audit(store, "c", "ROLLED_BACK", target="app")
    plan = plan_of(project, store)
    assert [(c.change_id, c.current_state) for c in plan.changes] == [
        ("b", "FAILED"), ("c", "ROLLED_BACK")]
    with store.write() as tx:
        mark_change(tx, store.audit_table, "b", "APPLIED", Provenance(actor="ops"),
                    now_ms=T0, execution_id="m-1")
        mark_change(tx, store.audit_table, "c", "ROLLED_BACK", Provenance(actor="ops"),
                    now_ms=T0, execution_id="m-2")
    plan = plan_of(project, store)
    assert [(c.change_id, c.current_state) for c in plan.changes] == [
        ("c", "MANUAL_MARKED_AS_ROLLED_BACK")]
    assert plan.changes[0].current_audit_id == store.conn.execute(
        "SELECT max(id) FROM setright_audit_log WHERE change_id = 'c'").fetchone()[0]


def test_fingerprint_changes_with_an_edited_operation(project: Project) -> None:
    store = project.open_store(FixedClock(T0))
    before = plan_of(project, store)
    project.change("_0002__b", apply="CREATE TABLE b (id INTEGER);\nINSERT INTO b VALUES (2);")
    after = plan_of(project, store)
    assert before.fingerprint() != after.fingerprint()
    assert before.changes[1].operations[0] == after.changes[1].operations[0]
    assert before.changes[1].operations[1] != after.changes[1].operations[1]


def test_fingerprint_changes_with_the_order_the_operations_and_what_is_planned(
        project: Project) -> None:
    store = project.open_store(FixedClock(T0))
    prints = {plan_of(project, store).fingerprint()}
    (project.root / "changes" / "app" / "_0001__a.yaml").unlink()
    project.change("_0004__a", apply="CREATE TABLE a (id INTEGER)")  # a runs last now
    prints.add(plan_of(project, store).fingerprint())
    project.change("_0002__b", apply="CREATE TABLE b (id INTEGER)")  # one operation, not two
    prints.add(plan_of(project, store).fingerprint())
    audit(store, "c", "APPLIED", target="app")                       # c is planned no more
    prints.add(plan_of(project, store).fingerprint())
    assert len(prints) == 4 and all(p.startswith("dh1:") for p in prints)


def test_other_targets_changes_are_ignored(tmp_path: Path) -> None:
    project = Project(tmp_path / "p", targets=("app", "other"))
    project.change("_0001__a", apply="CREATE TABLE a (id INTEGER)")
    project.change("_0001__x", target="other", apply="CREATE TABLE x (id INTEGER)")
    store = project.open_store(FixedClock(T0))
    everything = [c for cs in load_all(project.config()).values() for c in cs]
    assert [c.change_id for c in fresh_plan(store.conn, everything, "other").changes] == ["x"]


def test_drift_only_for_applied_changes_with_a_recorded_checksum(project: Project) -> None:
    store = project.open_store(FixedClock(T0))
    assert project.run(store)[0].status == "completed"
    project.change("_0001__a", apply="CREATE TABLE a (id INTEGER, v TEXT)")
    project.change("_0003__c", transactional=False, apply="CREATE TABLE c (v TEXT)")
    with store.write() as tx:  # marked rolled back: it will re-run, so an edit is not drift
        mark_change(tx, store.audit_table, "c", "ROLLED_BACK", Provenance(actor="ops"),
                    now_ms=T0 + 10, execution_id="m-1")
    drift = find_drift(store.conn, load_all(project.config())["app"], "app")
    assert [(d.change_id, d.source_file) for d in drift] == [("a", str(
        (project.root / "changes/app/_0001__a.yaml").resolve()))]
    assert drift[0].applied_checksum != drift[0].file_checksum
