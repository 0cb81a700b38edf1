"""A failed apply records its target's schema: by the runner, and by the reaper of a lost one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from planhelp import Crash, crash_after
from runhelp import Project, one
from setright.runner.execute import _TargetRun
from setright.store.snapshots import failure_snapshot
from setright.timeutil import FixedClock
from storehelp import T0

SCHEMA = ("CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT NOT NULL, price REAL"
          " DEFAULT 0 CHECK (price >= 0));\n"
          "CREATE UNIQUE INDEX items_sku ON items (sku);\n"
          "CREATE TABLE orders (id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES items (id));\n"
          "CREATE VIEW cheap AS SELECT id FROM items WHERE price < 10;\n"
          "CREATE TRIGGER items_touch AFTER UPDATE ON items BEGIN SELECT 1; END;")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path / "p", max_attempts=1)
    p.change("_0001__schema", apply=SCHEMA)
    return p


def test_a_failed_apply_records_the_targets_schema(project: Project, clock: FixedClock) -> None:
    project.change("_0002__broken", apply="INSERT INTO missing VALUES (1);")
    store = project.open_store(clock)
    [outcome] = project.run(store)
    assert outcome.apply_state == "failed"
    recorded = failure_snapshot(store.conn, outcome.apply_id)
    assert recorded is not None
    assert recorded.taken_at == one(store, "SELECT completed_at FROM setright_applies")[0]
    assert recorded.fingerprint.startswith("dh1:")
    schema = recorded.schema
    assert sorted(schema["tables"]) == ["items", "orders"]   # setright's tables left out
    items = schema["tables"]["items"]
    assert items["columns"]["sku"] == {"type": "TEXT", "nullable": False, "default": None,
                                       "primary_key": False}
    assert items["columns"]["price"]["default"] == "0"
    assert items["indexes"]["items_sku"] == {"columns": ["sku"], "unique": True}
    assert items["has_check"] is True
    assert schema["tables"]["orders"]["foreign_keys"] == ["item_id -> items(id)"]
    assert list(schema["views"]) == ["cheap"]
    assert list(schema["triggers"]) == ["items_touch"]


def test_a_retryable_failure_records_nothing_until_the_budget_is_spent(tmp_path: Path,
                                                                     clock: FixedClock) -> None:
    p = Project(tmp_path / "p", max_attempts=2)
    p.change("_0001__broken", apply="INSERT INTO missing VALUES (1);")
    store = p.open_store(clock)
    [outcome] = p.run(store, max_attempts=2)
    assert outcome.apply_state == "failed"
    # one row: written with the terminal failure, not with the retryable one before it
    assert one(store, "SELECT count(*) FROM setright_schema_snapshots")[0] == 1
    assert failure_snapshot(store.conn, outcome.apply_id).schema == {
        "tables": {}, "views": {}, "triggers": {}}


def test_a_completed_apply_records_no_snapshot(project: Project, clock: FixedClock) -> None:
    store = project.open_store(clock)
    assert project.run(store)[0].apply_state == "completed"
    assert one(store, "SELECT count(*) FROM setright_schema_snapshots")[0] == 0


def test_the_reaper_records_the_snapshot_of_a_lost_runner(project: Project,
                                                           monkeypatch) -> None:
    project.change("_0002__loose", transactional=False,
                   apply="CREATE TABLE legacy (id INTEGER);\nCREATE INDEX legacy_id ON legacy (id);")
    clock = FixedClock(T0)
    store = project.open_store(clock)
    # The runner dies right after operation 1 commits and nothing settles its apply: the
    # lease is left to expire, as after a SIGKILL.
    monkeypatch.setattr(_TargetRun, "abandon", lambda self, reason: False)
    with pytest.raises(Crash):
        project.run(store, after_commit=crash_after("loose", 1))
    apply_id = one(store, "SELECT id FROM setright_applies WHERE state = 'running'")[0]
    assert failure_snapshot(store.conn, apply_id) is None
    monkeypatch.undo()
    clock.advance(120)
    [outcome] = project.run(store)
    assert outcome.reaped and outcome.reaped[0].apply_id == apply_id
    recorded = failure_snapshot(store.conn, apply_id)
    assert recorded is not None
    assert "legacy" in recorded.schema["tables"]           # operation 1 had committed
    assert recorded.schema["tables"]["legacy"]["indexes"] == {}   # operation 2 had not
    assert json.loads(one(store, "SELECT snapshot FROM setright_schema_snapshots"
                               " WHERE apply_id = ?", apply_id)[0]) == recorded.schema


def test_an_unchanged_target_has_the_failure_time_fingerprint(project: Project,
                                                              clock: FixedClock) -> None:
    from setright.runner.snapshots import live_snapshot
    from setright.store.snapshots import schema_fingerprint

    project.change("_0002__broken", apply="INSERT INTO missing VALUES (1);")
    store = project.open_store(clock)
    [outcome] = project.run(store)
    recorded = failure_snapshot(store.conn, outcome.apply_id)
    live = live_snapshot(project.config().targets["app"], "app")
    assert live.schema == recorded.schema
    assert schema_fingerprint(live.schema) == recorded.fingerprint


_LOADED_ON_FAILURE = ("setright.runner.snapshots", "setright.store.snapshots",
                      "setright.store.diagnosis")
_RUN_AND_LIST = ("import sys\nfrom setright.cli import main\nsys.argv = ['setright', 'run']\n"
                 "try:\n    main()\nexcept SystemExit:\n    pass\n"
                 f"print('LOADED', sorted(m for m in {_LOADED_ON_FAILURE!r} if m in sys.modules))")


@pytest.mark.parametrize("broken", [False, True], ids=["applied", "failed"])
def test_the_snapshot_code_loads_only_when_an_apply_fails(project: Project,
                                                          broken: bool) -> None:
    """A run that fails nothing never imports the snapshot code or the diagnosis; a failed
    apply still records its snapshot, through the imports made then."""
    if broken:
        project.change("_0002__broken", apply="INSERT INTO missing VALUES (1);")
    out = subprocess.run([sys.executable, "-c", _RUN_AND_LIST], cwd=project.root,
                         capture_output=True, text=True, check=True)
    loaded = out.stdout.strip().splitlines()[-1]
    if broken:
        assert loaded == "LOADED ['setright.runner.snapshots', 'setright.store.snapshots']"
        assert one_snapshot_count(project) == 1
    else:
        assert loaded == "LOADED []"
        assert one_snapshot_count(project) == 0


def one_snapshot_count(project: Project) -> int:
    return int(project.store_rows("SELECT count(*) FROM setright_schema_snapshots")[0][0])
