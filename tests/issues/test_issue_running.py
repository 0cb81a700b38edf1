"""STARTED changes under a live lease or lock: listed in `RUNNING (n)`, never counted as issues,
never picked by `issue get`, and never marked while the lock is live."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from setright.cli import cli
from setright.store import Store
from setright.timeutil import FixedClock
from storehelp import T0, apply_row, audit, make_flamingock_db, task_row

CONFIG = """\
version: 1
store: {{url: "sqlite:///flamingock.db", audit_table: flamingockAuditLog{extra}}}
targets: {{}}
"""
UNTIL = T0 + 60_000


def project_at(root: Path, monkeypatch: pytest.MonkeyPatch, *, lock_table: str | None = None,
               live: bool = True) -> Path:
    monkeypatch.chdir(root)
    extra = f", flamingock_lock_table: {lock_table}" if lock_table else ""
    (root / "setright.yaml").write_text(CONFIG.format(extra=extra))
    make_flamingock_db(root / "flamingock.db")
    conn = sqlite3.connect(root / "flamingock.db")
    table = lock_table or "flamingockLock"
    if lock_table:
        conn.execute(f"CREATE TABLE {table} (key TEXT PRIMARY KEY, status TEXT, owner TEXT,"
                     " expires_at INTEGER)")
    if live:
        conn.execute(f"INSERT INTO {table} VALUES ('lock', 'LOCK_HELD', 'runner-7', ?)", (UNTIL,))
    conn.commit()
    conn.close()
    return root


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), obj={"clock": FixedClock(T0)},
                              env={"SETRIGHT_ACTOR": "ops@example.com"})


def test_a_live_flamingock_lock_lists_its_started_change_as_running(tmp_path, monkeypatch,
                                                                   snapshot) -> None:
    project_at(tmp_path, monkeypatch)
    result = invoke("issue", "list")
    assert result.exit_code == 0
    assert result.output == snapshot
    assert "ISSUES FOUND (2)" in result.output and "RUNNING (1)" in result.output
    data = json.loads(invoke("issue", "list", "--json").output)
    assert [i["change_id"] for i in data["issues"]] == ["cache-warming-q4", "payment-processing"]
    assert data["running"] == [{
        "change_id": "user-data-sync-v2", "state": "STARTED", "target": "user-db",
        "created_at": "2026-11-22T11:59:53.000Z", "apply_id": None, "lock_owner": "runner-7",
        "lock_until": "2026-11-22T12:01:00.000Z", "reason": "running"}]
    # issue get without -c takes the first issue, never the running change
    assert invoke("issue", "get").output.startswith("ISSUE: cache-warming-q4\n")
    assert invoke("issue", "get", "-c", "user-data-sync-v2").output == (
        "Change 'user-data-sync-v2' is not an issue: STARTED (running; lock held by runner-7"
        " until 2026-11-22T12:01:00.000Z)\n")


def test_marking_a_running_change_is_refused_while_the_lock_is_live(tmp_path,
                                                                    monkeypatch) -> None:
    project_at(tmp_path, monkeypatch)
    result = invoke("audit", "fix", "-c", "user-data-sync-v2", "-r", "APPLIED",
                    "--reason", "done by hand", "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: change 'user-data-sync-v2' is running: lock held by runner-7 until "
        "2026-11-22T12:01:00.000Z; it cannot be marked while the lock is live\n")
    conn = sqlite3.connect(tmp_path / "flamingock.db")
    assert conn.execute("SELECT count(*) FROM flamingockAuditLog").fetchone() == (8,)
    conn.close()


def test_only_running_changes_do_not_fail_the_exit_code(tmp_path, monkeypatch) -> None:
    project_at(tmp_path, monkeypatch)
    conn = sqlite3.connect(tmp_path / "flamingock.db")
    conn.execute("DELETE FROM flamingockAuditLog WHERE change_id IN"
                 " ('cache-warming-q4', 'payment-processing')")
    conn.commit()
    conn.close()
    result = invoke("issue", "list", "--exit-code")
    assert result.exit_code == 0
    assert result.output.startswith("No issues found.\n\nRUNNING (1)\n")
    assert invoke("issue", "get").output == "No issues found.\n"


def test_the_lock_table_is_configurable(tmp_path, monkeypatch) -> None:
    project_at(tmp_path, monkeypatch, lock_table="customLock")
    conn = sqlite3.connect(tmp_path / "flamingock.db")   # the default table, released
    conn.execute("INSERT INTO flamingockLock VALUES ('lock', 'RELEASED', 'old', ?)", (UNTIL,))
    conn.commit()
    conn.close()
    data = json.loads(invoke("issue", "list", "--json").output)
    assert [r["lock_owner"] for r in data["running"]] == ["runner-7"]
    # without the setting, the configured table is not read: no live lock, three issues
    (tmp_path / "setright.yaml").write_text(CONFIG.format(extra=""))
    data = json.loads(invoke("issue", "list", "--json").output)
    assert (len(data["issues"]), data["running"]) == (3, [])


def test_an_expired_lock_makes_the_started_change_an_issue_again(tmp_path, monkeypatch) -> None:
    project_at(tmp_path, monkeypatch, live=False)
    conn = sqlite3.connect(tmp_path / "flamingock.db")
    conn.execute("INSERT INTO flamingockLock VALUES ('lock', 'LOCK_HELD', 'runner-7', ?)",
                 (T0 - 1,))
    conn.commit()
    conn.close()
    data = json.loads(invoke("issue", "list", "--json").output)
    assert (len(data["issues"]), data["running"]) == (3, [])


def test_setrights_own_live_lease_is_listed_with_its_owner(tmp_path: Path,
                                                           monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "setright.yaml").write_text("version: 1\nstore: {}\ntargets: {}\n")
    store = Store.open(tmp_path / ".setright" / "audit.db", clock=FixedClock(T0))
    with store.write() as tx:
        apply_row(tx, "ap-live", "app", "running", lease_token="tok",
                  lease_expires_at="2026-11-22T12:00:30.000Z")
        tx.execute("UPDATE setright_applies SET lease_owner = 'ci@runner-3:41'")
        task_row(tx, "ap-live", 1, "slow-backfill", "running")
    audit(store, "slow-backfill", "STARTED", execution_id="ap-live", target="app")
    store.close()
    data = json.loads(invoke("issue", "list", "--json").output)
    assert data["issues"] == []
    assert [(r["change_id"], r["lock_owner"], r["lock_until"]) for r in data["running"]] == [
        ("slow-backfill", "ci@runner-3:41", "2026-11-22T12:00:30.000Z")]


def test_a_mark_row_has_a_fresh_uuid_and_an_empty_error_trace(tmp_path, monkeypatch) -> None:
    project_at(tmp_path, monkeypatch, live=False)
    result = invoke("audit", "fix", "-c", "cache-warming-q4", "-r", "ROLLED_BACK",
                    "--reason", "reverted by hand", "--yes")
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(tmp_path / "flamingock.db")
    execution_id, trace = conn.execute(
        "SELECT execution_id, error_trace FROM flamingockAuditLog ORDER BY id DESC").fetchone()
    conn.close()
    assert uuid.UUID(execution_id).version == 4 and str(uuid.UUID(execution_id)) == execution_id
    assert trace == ""
