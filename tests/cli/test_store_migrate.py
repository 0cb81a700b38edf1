"""`setright store migrate --to URL`: the command, its summary and its refusals."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from migratehelp import dump, filled_project
from setright.render.migrate import migration_summary
from setright.render.style import Style
from setright.store import Store
from setright.timeutil import FixedClock

_DIGEST = re.compile(r"ok [0-9a-f]{12}")
_LINEAGE = re.compile(r"lineage [0-9a-f-]{36}")


def masked(text: str) -> str:
    return _LINEAGE.sub("lineage <lineage>", _DIGEST.sub("ok <digest-----", text))


def test_migrate_prints_a_summary_per_table(tmp_path: Path, clock: FixedClock, snapshot) -> None:
    project = filled_project(tmp_path, clock)
    result = project.cli("store", "migrate", "--to", "sqlite:///moved/audit.db", clock=clock)
    assert result.exit_code == 0, result.output
    assert masked(result.stdout) == snapshot
    source = project.open_store(clock)
    copy = Store.open(tmp_path / "moved" / "audit.db", clock=clock)
    try:
        assert dump(copy) == dump(source)
    finally:
        copy.close()
        source.close()


def test_json_names_every_table_with_rows_and_digest(tmp_path: Path, clock: FixedClock) -> None:
    project = filled_project(tmp_path, clock)
    result = project.cli("store", "migrate", "--to", "sqlite:///moved.db", "--json", clock=clock)
    data = json.loads(result.stdout)
    source = project.open_store(clock)
    try:
        assert data["lineage"] == source.lineage and data["serial"] == source.serial
        rows = {t: len(r) for t, r in dump(source).items()}
    finally:
        source.close()
    assert {t["table"]: t["rows"] for t in data["tables"]} == rows
    assert all(re.fullmatch(r"[0-9a-f]{64}", t["digest"]) for t in data["tables"])
    assert data["destination"] == "sqlite:///moved.db"


def test_a_second_migrate_into_the_same_store_is_one_error(tmp_path: Path, clock: FixedClock,
                                                           snapshot) -> None:
    project = filled_project(tmp_path, clock)
    assert project.cli("store", "migrate", "--to", "sqlite:///moved.db", clock=clock
                       ).exit_code == 0
    moved = tmp_path / "moved.db"
    before = moved.read_bytes()
    again = project.cli("store", "migrate", "--to", "sqlite:///moved.db", clock=clock)
    assert again.exit_code == 1
    assert again.stdout == ""
    assert again.stderr == snapshot
    assert moved.read_bytes() == before


def test_a_password_in_the_destination_is_never_printed(tmp_path: Path,
                                                        clock: FixedClock) -> None:
    project = filled_project(tmp_path, clock)
    result = project.cli("store", "migrate", "--to",
                         "postgresql://ops:s3cret-pw@127.0.0.1:1/audit?connect_timeout=2",
                         clock=clock)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.output
    assert "s3cret-pw" not in result.output
    assert "127.0.0.1" in result.stderr
    assert result.stderr.endswith("\n  check --to\n")   # not the healthy store.url


@pytest.mark.parametrize("url,first", [
    ("postgress://x/y", "Error: --to: unsupported database URL 'postgress://x/y'"),
    ("mysql://root@h/x?foo=1", "Error: --to: URL 'mysql://root@h/x?foo=1': unknown parameter"
                               " 'foo' for MySQL"),
])
def test_a_bad_destination_url_names_to(tmp_path: Path, clock: FixedClock, url: str,
                                        first: str) -> None:
    project = filled_project(tmp_path, clock)
    result = project.cli("store", "migrate", "--to", url, clock=clock)
    assert result.exit_code == 1
    assert result.stderr.startswith(first), result.stderr


def test_a_destination_that_is_no_database_names_to(tmp_path: Path, clock: FixedClock) -> None:
    project = filled_project(tmp_path, clock)
    (project.root / "junk.db").write_text("junk")
    result = project.cli("store", "migrate", "--to", "sqlite:///junk.db", clock=clock)
    assert result.exit_code == 1
    assert result.stderr.endswith("file is not a database\n  check --to\n"), result.stderr


def test_to_is_required(tmp_path: Path, clock: FixedClock) -> None:
    project = filled_project(tmp_path, clock)
    result = project.cli("store", "migrate", clock=clock)
    assert result.exit_code == 1
    assert "Missing option '--to'" in result.stderr


@pytest.mark.parametrize("live_locks", [0, 2])
def test_summary_view(live_locks: int, snapshot) -> None:
    result = {
        "source": "sqlite:///.setright/audit.db",
        "destination": "postgresql://ops:***@db.example.com:5432/audit",
        "lineage": "0f6b7c1e-2a44-4c43-9d6e-3f1b2f0e9a11", "serial": 42,
        "live_locks": live_locks,
        "tables": [{"table": "setright_audit_log", "rows": 1_000_000, "digest": "ab" * 32},
                   {"table": "setright_meta", "rows": 5, "digest": "cd" * 32},
                   {"table": "setright_ledger", "rows": 0, "digest": "ef" * 32}],
    }
    assert migration_summary(result, Style(ascii=True)) == snapshot


def test_a_target_s_database_is_refused_as_the_destination(tmp_path: Path,
                                                           clock: FixedClock) -> None:
    """A store inside a target would be written by the very changes it records."""
    project = filled_project(tmp_path, clock)
    target = project.root / "data" / "app.db"
    before = target.read_bytes()
    result = project.cli("store", "migrate", "--to", "sqlite:///./data/app.db", clock=clock)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "Error: the destination sqlite:///./data/app.db is the database of target 'app'")
    assert target.read_bytes() == before


def test_a_plan_of_the_new_store_is_refused_by_the_old_one(tmp_path: Path,
                                                           clock: FixedClock) -> None:
    """Both copies share a lineage after a migrate; the old one, behind the new, refuses a
    plan read from the new one (a store's serial only grows), so nothing is written twice."""
    from planhelp import resolution_file, state_and_ledger

    project = filled_project(tmp_path, clock)
    assert project.cli("store", "migrate", "--to", "sqlite:///moved.db", clock=clock
                       ).exit_code == 0
    moved = Store.open(project.root / "moved.db", clock=clock)
    with moved.write():   # the new store moves on: a state write
        pass
    moved.close()
    resolution_file(project, "r.yaml", resolutions=[
        {"change": "backfill", "resolution": "APPLIED"}])
    saved = str(project.root / "plan.json")   # never the working directory
    made = project.cli("--store", "sqlite:///moved.db", "plan", "-o", saved, clock=clock)
    assert made.exit_code == 0, made.output
    before = state_and_ledger(project, clock)
    refused = project.cli("apply", saved, clock=clock)
    assert refused.exit_code == 1
    assert refused.stderr.splitlines()[0] == (
        "Error: this plan was made for another copy of this audit store")
    assert state_and_ledger(project, clock) == before
