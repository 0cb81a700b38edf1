"""A redrive sees the live target: its schema now against the one recorded at failure time.

The failed apply created the unique index `items_sku` (operation 1 committed), then
failed copying into `legacy_items`, which did not exist. The operator's fix creates that
table: an addition, shown as drift. Dropping or altering what existed at failure time is a
conflict that names it, unless the entry says `accept_drift: true`.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from planhelp import actions, failed_apply_id, plan, plan_json, resolution_file
from runhelp import Project, normalise
from setright.timeutil import FixedClock

FIX = "CREATE TABLE legacy_items (id INTEGER, sku TEXT)"


@pytest.fixture
def project(tmp_path: Path, clock: FixedClock) -> Project:
    p = Project(tmp_path / "proj")
    p.change("_0001__items", apply="CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT);\n"
             "INSERT INTO items (sku) VALUES ('a'), ('b');")
    p.change("_0002__sku-index", transactional=False,
             apply="CREATE UNIQUE INDEX items_sku ON items (sku);\n"
                   "INSERT INTO legacy_items SELECT id, sku FROM items;")
    store = p.open_store(clock)
    [outcome] = p.run(store)
    assert outcome.apply_state == "failed"
    store.close()
    return p


@pytest.fixture
def apply_id(project: Project, clock: FixedClock) -> str:
    store = project.open_store(clock)
    try:
        return failed_apply_id(store)
    finally:
        store.close()


def target_sql(project: Project, *statements: str) -> None:
    conn = sqlite3.connect(project.root / "data" / "app.db", isolation_level=None)
    try:
        for sql in statements:
            conn.execute(sql)
    finally:
        conn.close()


def redrive(project: Project, apply_id: str, **fields: object) -> Path:
    return resolution_file(project, "redrive.yaml", reason="created legacy_items",
                           redrives=[{"apply": apply_id, **fields}])


def action_of(project: Project, clock: FixedClock) -> dict:
    [action] = plan_json(project, clock)["actions"]
    return action


def test_the_operators_fix_is_shown_as_drift_in_every_view(project, clock, apply_id,
                                                           snapshot) -> None:
    target_sql(project, FIX)
    redrive(project, apply_id)
    code, out, err = plan(project, clock, "--detailed-exitcode")
    assert (code, err) == (2, "")
    assert out == snapshot
    markdown = project.cli("plan", "--format", "markdown", clock=clock)
    assert "drift: table legacy_items added" in markdown.stdout
    assert normalise(markdown.stdout) == snapshot
    action = action_of(project, clock)
    assert (action["outcome"], action["drift"], action["warnings"]) == (
        "change", ["table legacy_items added"], [])
    assert action["guard"]["data"]["live_schema"].startswith("dh1:")


def test_a_dropped_index_is_a_conflict_that_names_it(project, clock, apply_id,
                                                     snapshot) -> None:
    target_sql(project, FIX, "DROP INDEX items_sku")
    redrive(project, apply_id)
    code, out, _ = plan(project, clock, "--detailed-exitcode")
    assert code == 1
    assert out == snapshot
    assert actions(project, clock)[f"redrive:{apply_id}"] == ("conflict", [
        "the schema of app lost or altered what it had when the apply failed "
        "(set accept_drift: true to redrive anyway):",
        "  index items_sku dropped since the apply failed",
    ])
    markdown = project.cli("plan", "--format", "markdown", clock=clock).stdout
    assert "index items_sku dropped since the apply failed" in markdown


def test_an_altered_column_is_a_conflict(project, clock, apply_id) -> None:
    target_sql(project, "DROP TABLE items",
               "CREATE TABLE items (id INTEGER PRIMARY KEY, sku INTEGER NOT NULL)",
               "CREATE UNIQUE INDEX items_sku ON items (sku)", FIX)
    redrive(project, apply_id)
    outcome, messages = actions(project, clock)[f"redrive:{apply_id}"]
    assert outcome == "conflict"
    assert messages[1:] == [
        "  column items.sku altered since the apply failed: nullable True → False",
        "  column items.sku altered since the apply failed: type TEXT → INTEGER",
    ]


def test_accept_drift_redrives_and_still_shows_the_drift(project, clock, apply_id,
                                                         snapshot) -> None:
    target_sql(project, FIX, "DROP INDEX items_sku")
    redrive(project, apply_id, accept_drift=True)
    code, out, _ = plan(project, clock, "--detailed-exitcode")
    assert code == 2
    assert out == snapshot
    action = action_of(project, clock)
    assert action["drift"] == ["index items_sku dropped since the apply failed",
                               "table legacy_items added"]
    assert action["entry"]["accept_drift"] is True
    result = project.cli("apply", "--auto-approve", "--allow-dirty", clock=clock)
    assert result.exit_code == 0, result.output
    store = project.open_store(clock)
    [outcome] = project.run(store)
    store.close()
    assert outcome.apply_state == "completed"
    assert project.query("SELECT count(*) FROM legacy_items") == [(2,)]


def test_no_failure_time_snapshot_is_a_warning_not_a_conflict(project, clock, apply_id) -> None:
    store = project.open_store(clock)
    with store.write() as tx:   # as an apply that failed before snapshots were recorded
        tx.execute("DELETE FROM setright_schema_snapshots")
    store.close()
    target_sql(project, FIX)
    redrive(project, apply_id)
    data = plan_json(project, clock)
    [action] = data["actions"]
    assert action["outcome"] == "change" and action["drift"] == []
    warning = (f"no failure-time snapshot of apply {apply_id}: drift of the schema of app "
               "since the failure cannot be checked")
    assert action["warnings"] == [warning]
    assert data["warnings"] == [f'redrive.apply["{apply_id}"]: {warning}']
    code, out, _ = plan(project, clock)
    assert code == 0 and out.startswith(f"Warning: {normalise(data['warnings'][0])}\n")


def test_an_unreachable_target_is_a_conflict_that_says_so(project, clock, apply_id) -> None:
    (project.root / "data" / "app.db").rename(project.root / "data" / "moved.db")
    redrive(project, apply_id)
    outcome, messages = actions(project, clock)[f"redrive:{apply_id}"]
    assert outcome == "conflict"
    assert messages[0].startswith("target app cannot be reached to compare its schema with "
                                  "the failure time: target app: database ")
    assert messages[0].endswith("app.db does not exist")
    assert not (project.root / "data" / "app.db").exists()   # planning created nothing


def test_a_schema_change_between_plan_and_apply_makes_the_plan_stale(project, clock,
                                                                     apply_id) -> None:
    target_sql(project, FIX)
    redrive(project, apply_id)
    saved = project.root / "plan.json"
    assert project.cli("plan", "-o", str(saved), clock=clock).exit_code == 0
    target_sql(project, "CREATE INDEX legacy_sku ON legacy_items (sku)")
    result = project.cli("apply", "--allow-dirty", str(saved), clock=clock)
    assert result.exit_code == 1
    assert "Saved plan is stale" in result.stderr
    assert (f'redrive.apply["{apply_id}"] (resolutions/redrive.yaml): what it read moved since'
            " the plan: live_schema: the target's schema changed since the plan") in result.stderr
    store = project.open_store(clock)
    assert store.conn.execute("SELECT state FROM setright_applies").fetchone() == ("failed",)
    store.close()
    # planned again: the index belongs to the added table, which is the one addition
    assert action_of(project, clock)["drift"] == ["table legacy_items added"]


def test_planning_opens_the_target_read_only(project, clock, apply_id) -> None:
    target_sql(project, FIX)
    redrive(project, apply_id)
    target = project.root / "data" / "app.db"
    before = target.read_bytes()
    assert project.cli("plan", clock=clock).exit_code == 0
    assert project.cli("issue", "get", clock=clock).exit_code == 0
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["app.db"]   # no -wal, no -shm


def test_the_live_snapshot_sees_what_an_open_writer_has_not_checkpointed(project, clock,
                                                                        apply_id) -> None:
    redrive(project, apply_id)
    writer = sqlite3.connect(project.root / "data" / "app.db", isolation_level=None)
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        writer.execute(FIX)   # committed into the -wal only, while the writer stays open
        assert action_of(project, clock)["drift"] == ["table legacy_items added"]
    finally:
        writer.close()


def test_issue_get_shows_the_same_drift(project, clock, apply_id, snapshot) -> None:
    target_sql(project, FIX, "DROP INDEX items_sku")
    result = project.cli("issue", "get", "-c", "sku-index", clock=clock)
    assert result.exit_code == 0, result.output
    text = normalise(result.stdout)
    section = text[text.index("SCHEMA DRIFT"):text.index("RESOLUTION GUIDANCE")]
    assert section == snapshot
    data = json.loads(project.cli("issue", "get", "-c", "sku-index", "--json",
                                  clock=clock).stdout)
    assert data["schema_drift"] == {"added": ["table legacy_items added"],
                                    "lost": ["index items_sku dropped since the apply failed"],
                                    "problem": None}


def test_issue_get_without_drift_or_snapshot(project, clock, apply_id) -> None:
    out = project.cli("issue", "get", clock=clock).stdout
    assert (f"SCHEMA DRIFT SINCE THE FAILURE\n  none: the schema of app is as apply {apply_id} "
            "left it\n") in out
    store = project.open_store(clock)
    with store.write() as tx:
        tx.execute("DELETE FROM setright_schema_snapshots")
    store.close()
    out = project.cli("issue", "get", clock=clock).stdout
    assert (f"SCHEMA DRIFT SINCE THE FAILURE\n  no failure-time snapshot of apply {apply_id}: "
            "drift of the schema of app since the failure cannot be checked\n") in out


def test_a_renamed_only_table_is_a_dropped_table_and_an_added_one(project, clock,
                                                                  apply_id) -> None:
    # the target's one table renamed: DeepDiff would report `tables` as one changed value
    target_sql(project, "ALTER TABLE items RENAME TO items2")
    redrive(project, apply_id)
    action = action_of(project, clock)
    assert (action["outcome"], action["drift"]) == (
        "conflict", ["table items dropped since the apply failed", "table items2 added"])
    assert actions(project, clock)[f"redrive:{apply_id}"][1][1:] == [
        "  table items dropped since the apply failed"]
    code, out, _ = plan(project, clock)
    assert code == 1 and "drift: table items2 added" in out and "tables altered" not in out
    redrive(project, apply_id, accept_drift=True)
    action = action_of(project, clock)
    assert (action["outcome"], action["drift"]) == (
        "change", ["table items dropped since the apply failed", "table items2 added"])


TABLE = {"columns": {"id": {"type": "INTEGER", "nullable": False, "default": None,
                            "primary_key": True}},
         "indexes": {"t_id": {"columns": ["id"], "unique": True}},
         "foreign_keys": ["(id) REFERENCES parent (id)"], "has_check": False,
         "constraints": {"t_pkey": "PRIMARY KEY (id)"}}


def _schema(tables: dict | None = None, **rest: dict) -> dict:
    return {"tables": {"t": TABLE} if tables is None else tables, "views": {}, "triggers": {},
            **rest}


def _with(**parts: dict) -> dict:
    return _schema({"t": {**TABLE, **parts}})


@pytest.mark.parametrize(("before", "after", "added", "lost"), [
    pytest.param(_schema(), _schema({"t2": TABLE}), ["table t2 added"], ["table t dropped"],
                 id="the only table"),
    pytest.param(_schema(), _schema({"T": TABLE}), ["table T added"], ["table t dropped"],
                 id="the only table, its case"),
    pytest.param(_schema({"a": TABLE, "b": TABLE, "c": TABLE}),
                 _schema({"a": TABLE, "d": TABLE, "e": TABLE}),
                 ["table d added", "table e added"], ["table b dropped", "table c dropped"],
                 id="most tables"),
    pytest.param(_schema(), _with(columns={"key": TABLE["columns"]["id"]}),
                 ["column t.key added"], ["column t.id dropped"], id="the only column"),
    pytest.param(_schema(), _with(indexes={"t_key": TABLE["indexes"]["t_id"]}),
                 ["index t_key added"], ["index t_id dropped"], id="the only index"),
    pytest.param(_schema(), _with(foreign_keys=["(id) REFERENCES other (id)"]),
                 ["foreign key (id) REFERENCES other (id) on t added"],
                 ["foreign key (id) REFERENCES parent (id) on t dropped"],
                 id="the only foreign key"),
    pytest.param(_schema(), _with(constraints={"t_pk": "PRIMARY KEY (id)"}),
                 ["constraint t_pk on t added"], ["constraint t_pkey on t dropped"],
                 id="the only constraint"),
    pytest.param(_schema(views={"v": "SELECT 1"}), _schema(views={"v2": "SELECT 1"}),
                 ["view v2 added"], ["view v dropped"], id="the only view"),
    pytest.param(_schema(triggers={"tr": "…"}), _schema(triggers={"tr2": "…"}),
                 ["trigger tr2 added"], ["trigger tr dropped"], id="the only trigger"),
])
def test_replaced_keys_are_named_at_every_level(before: dict, after: dict, added: list[str],
                                                lost: list[str]) -> None:
    from setright.planner.drift import SINCE, schema_drift

    drift = schema_drift(before, after)
    assert (drift.added, drift.lost) == (added, [f"{line} {SINCE}" for line in lost])
