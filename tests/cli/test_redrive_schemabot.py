"""SchemaBot's redrive conditions: a failure time is required, a redrive leaves no stale lease
or completion time behind, and a refused `redrive` command leaves no lock behind."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from planhelp import actions, backfill_project, failed_apply_id, resolution_file, state_and_ledger
from runhelp import Project, normalise, one
from setright.timeutil import FixedClock


@pytest.fixture
def project(tmp_path: Path, clock: FixedClock) -> Project:
    """seed APPLIED; backfill FAILED at operation 2 of 3 (NON_TX) in a failed apply."""
    return backfill_project(tmp_path / "proj", clock)


@pytest.fixture
def apply_id(project: Project, clock: FixedClock) -> str:
    store = project.open_store(clock)
    try:
        return failed_apply_id(store)
    finally:
        store.close()


def store_sql(project: Project, clock: FixedClock, sql: str, *params: object) -> None:
    store = project.open_store(clock)
    with store.write() as tx:
        tx.execute(sql, params)
    store.close()


def locks(project: Project, clock: FixedClock) -> list[tuple[str, str]]:
    store = project.open_store(clock)
    try:
        return store.conn.execute("SELECT name, owner FROM setright_locks").fetchall()
    finally:
        store.close()


def test_a_failed_apply_without_failure_time_is_not_redrivable(project, clock, apply_id) -> None:
    store_sql(project, clock, "UPDATE setright_applies SET completed_at = NULL WHERE id = ?",
              apply_id)
    resolution_file(project, "r.yaml", reason="fix_me created", redrives=[{"apply": apply_id}])
    outcome, messages = actions(project, clock)[f"redrive:{apply_id}"]
    assert outcome == "conflict"
    assert messages[0] == (f"apply {normalise(apply_id)} has no failure time (completed_at is empty), so "
                           "its age cannot be checked against redrive.max_age")
    before = state_and_ledger(project, clock)
    refused = project.cli("redrive", apply_id, "--reason", "fix_me created", "--yes", clock=clock)
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"Error: apply {apply_id} has no failure time")
    assert state_and_ledger(project, clock) == before


def test_a_redrive_clears_the_lease_and_the_reopened_operations_completion(project, clock,
                                                                          apply_id) -> None:
    # as an older runner may have left it: a completion time on the failed operation
    store_sql(project, clock, "UPDATE setright_operations SET completed_at = ?"
              " WHERE apply_id = ? AND state = 'failed'", "2026-11-22T12:00:00.000Z", apply_id)
    store = project.open_store(clock)
    lease = one(store, "SELECT lease_owner, lease_token, lease_expires_at FROM setright_applies"
                " WHERE id = ?", apply_id)
    store.close()
    assert all(lease)   # the lost or finished runner's lease is still on the row
    sqlite3.connect(project.root / "data" / "app.db").execute(
        "CREATE TABLE fix_me (id INTEGER)").connection.commit()
    done = project.cli("redrive", apply_id, "--reason", "fix_me created", "--yes", clock=clock)
    assert done.exit_code == 0, done.output
    store = project.open_store(clock)
    assert one(store, "SELECT state, lease_owner, lease_token, lease_expires_at, completed_at"
               " FROM setright_applies WHERE id = ?", apply_id) == (
        "failed_retryable", None, None, None, None)
    assert store.conn.execute(
        "SELECT seq, state, completed_at FROM setright_operations WHERE apply_id = ?"
        " AND change_id = 'backfill' ORDER BY seq", (apply_id,)).fetchall()[1] == (
        2, "failed_retryable", None)
    store.close()
    assert locks(project, clock) == []


def test_a_redrive_refused_in_its_transaction_releases_its_locks(project, clock, apply_id,
                                                                 monkeypatch) -> None:
    """The preview accepts it; then someone drops what the failed apply left behind, so the
    write transaction refuses it: the apply and target locks it took are released."""
    import setright.cli.confirm as confirm_module

    target = sqlite3.connect(project.root / "data" / "app.db", isolation_level=None)
    target.execute("CREATE TABLE fix_me (id INTEGER)")
    target.execute("CREATE INDEX t_id ON t (id)")   # not there at failure time: an addition
    target.close()
    store = project.open_store(clock)
    with store.write() as tx:   # record t_id in the failure-time snapshot, as if it had been
        row = tx.execute("SELECT snapshot FROM setright_schema_snapshots").fetchone()
        schema = json.loads(row[0])
        schema["tables"]["t"]["indexes"]["t_id"] = {"columns": ["id"], "unique": False}
        tx.execute("UPDATE setright_schema_snapshots SET snapshot = ?", (json.dumps(schema),))
    store.close()

    def drop_it_meanwhile(*args: object, **kwargs: object) -> None:
        conn = sqlite3.connect(project.root / "data" / "app.db", isolation_level=None)
        conn.execute("DROP INDEX t_id")
        conn.close()

    monkeypatch.setattr(confirm_module, "confirm", drop_it_meanwhile)
    before = state_and_ledger(project, clock)
    refused = project.cli("redrive", apply_id, "--reason", "fix_me created", clock=clock)
    assert refused.exit_code == 1
    assert refused.stderr.splitlines()[:2] == [
        "Error: the schema of app lost or altered what it had when the apply failed "
        "(pass --accept-drift to redrive anyway):",
        "    index t_id dropped since the apply failed"]
    assert state_and_ledger(project, clock) == before
    assert locks(project, clock) == []
