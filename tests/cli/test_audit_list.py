"""`setright audit list`: current state per change, history, filters, JSON, ASCII."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from storehelp import T0
from setright.cli import cli
from setright.store import Store
from setright.store.audit import mark_change
from setright.store.transitions import Provenance
from setright.timeutil import FixedClock
from storehelp import audit


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "setright.yaml").write_text("version: 1\nstore: {}\ntargets: {}\n")
    clock = FixedClock(T0 - 60_000)
    store = Store.open(tmp_path / ".setright" / "audit.db", clock=clock)
    audit(store, "create-users", "STARTED", tx="TX_SHARED", execution_id="ap-1")
    audit(store, "create-users", "APPLIED", tx="TX_SHARED", execution_id="ap-1")
    clock.advance(5)
    audit(store, "user-data-sync-v2", "STARTED", execution_id="ap-1")
    clock.advance(5)
    audit(store, "cache-warming-q4", "STARTED", target="cache", execution_id="ap-2")
    audit(store, "cache-warming-q4", "FAILED", target="cache", execution_id="ap-2",
          error="UNIQUE constraint failed: cache.key\n  at operation 2")
    clock.advance(5)
    with store.write() as tx:
        mark_change(tx, store.audit_table, "cache-warming-q4", "ROLLED_BACK",
                    Provenance(actor="jane@example.com", source="cli"), now_ms=clock.now_ms(),
                    execution_id="fx-1")
    store.close()
    return tmp_path


def invoke(runner: CliRunner, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, list(args), obj={"clock": FixedClock(T0)})


def test_current_state_table(runner: CliRunner, project: Path, snapshot) -> None:
    result = invoke(runner, "audit", "list")
    assert result.exit_code == 0
    assert result.output == snapshot
    # MANUAL_MARKED_AS_* is never collapsed into another state
    assert "MANUAL_MARKED_AS_ROLLED_BACK" in result.output


def test_current_state_ascii(runner: CliRunner, project: Path, snapshot) -> None:
    result = invoke(runner, "--ascii", "audit", "list")
    assert result.output == snapshot
    assert "│" not in result.output


def test_history_table(runner: CliRunner, project: Path, snapshot) -> None:
    result = invoke(runner, "audit", "list", "--history")
    assert result.exit_code == 0
    assert result.output == snapshot


def test_json(runner: CliRunner, project: Path, snapshot) -> None:
    result = invoke(runner, "audit", "list", "--json")
    assert json.loads(result.output)["changes"][0]["change_id"] == "create-users"
    assert result.output == snapshot


def test_history_json_for_one_change(runner: CliRunner, project: Path, snapshot) -> None:
    result = invoke(runner, "audit", "list", "--history", "--json", "-c", "cache-warming-q4")
    rows = json.loads(result.output)["rows"]
    assert [r["state"] for r in rows] == ["STARTED", "FAILED", "MANUAL_MARKED_AS_ROLLED_BACK"]
    assert result.output == snapshot


def test_since_filters(runner: CliRunner, project: Path) -> None:
    result = invoke(runner, "audit", "list", "--since", "2026-11-22T11:59:05Z", "--json")
    assert [c["change_id"] for c in json.loads(result.output)["changes"]] == [
        "user-data-sync-v2", "cache-warming-q4"]
    history = invoke(runner, "audit", "list", "--history", "--since", "2026-11-22 11:59:10",
                     "--json")
    assert [r["state"] for r in json.loads(history.output)["rows"]] == [
        "STARTED", "FAILED", "MANUAL_MARKED_AS_ROLLED_BACK"]


@pytest.mark.parametrize("change_id", ["nope", "it's", "ünïcødé-✓", 'a"b'])
def test_unknown_or_odd_ids_are_just_empty(runner: CliRunner, project: Path, change_id) -> None:
    result = invoke(runner, "audit", "list", "-c", change_id)
    assert (result.exit_code, result.output) == (0, "No changes match the filter.\n")


def test_a_filter_that_matches_nothing_is_not_an_empty_store(runner: CliRunner,
                                                             project: Path) -> None:
    for args, said in ((["--since", "2099-01-01"], "No changes match the filter.\n"),
                       (["--history", "-c", "nope"], "No audit rows match the filter.\n")):
        result = invoke(runner, "audit", "list", *args)
        assert (result.exit_code, result.output) == (0, said)
    result = invoke(runner, "applies", "list", "--state", "cancelled")
    assert (result.exit_code, result.output) == (0, "No applies match the filter.\n")


@pytest.mark.parametrize("command", [["audit", "list"], ["history"]])
def test_since_is_read_alike_by_every_command(runner: CliRunner, project: Path,
                                              command: list[str]) -> None:
    for bad in ("1", "yesterday", "2026-13-01"):
        result = invoke(runner, *command, "--since", bad)
        assert result.exit_code == 1
        assert result.stderr.splitlines()[-1] == (
            f"Error: Invalid value for '--since': {bad!r} is not an ISO-8601 date or date-time"
            " (use e.g. 2026-11-01 or 2026-11-01T09:30:00Z)")
    for good in ("2026-11-22", "2026-11-22 11:59:05", "2026-11-22T12:59:05+01:00"):
        assert invoke(runner, *command, "--since", good).exit_code == 0
