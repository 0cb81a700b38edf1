"""Redrive drift on server targets: the same cases as on SQLite, through the same CLI.

The failed apply created the unique index `items_sku` (operation 1 committed), then failed
copying into `legacy_items`, which did not exist. The store is SQLite; the target is a
fresh PostgreSQL or MariaDB database. The operator's fix (creating the table) is drift
shown; an index dropped since the failure is a conflict naming it; `accept_drift: true`
redrives anyway and the resumed apply completes on the server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from planhelp import actions, failed_apply_id, plan_json, resolution_file
from runhelp import Project
from serverhelp import pg_url  # noqa: F401 - fixture
from serverhelp_mysql import mysql_admin, mysql_url  # noqa: F401 - fixtures
from setright.db import parse_url
from setright.db.impl import impl_for
from setright.timeutil import FixedClock

FIX = "CREATE TABLE legacy_items (id INTEGER, sku VARCHAR(20))"
DROP_INDEX = {"postgresql": "DROP INDEX items_sku", "mysql": "DROP INDEX items_sku ON items"}


@pytest.fixture(params=["postgresql", "mysql"])
def backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    fixture = "pg_url" if request.param == "postgresql" else "mysql_url"
    return request.param, request.getfixturevalue(fixture)


@pytest.fixture
def project(tmp_path: Path, clock: FixedClock, backend: tuple[str, str]) -> Project:
    p = Project(tmp_path / "proj", urls={"app": backend[1]})
    p.change("_0001__items", apply="CREATE TABLE items (id INTEGER PRIMARY KEY, sku VARCHAR(20));\n"
             "INSERT INTO items (id, sku) VALUES (1, 'a'), (2, 'b');")
    p.change("_0002__sku-index", transactional=False,
             apply="CREATE UNIQUE INDEX items_sku ON items (sku);\n"
                   "INSERT INTO legacy_items SELECT id, sku FROM items;")
    store = p.open_store(clock)
    [outcome] = p.run(store)
    assert outcome.apply_state == "failed"
    store.close()
    return p


def target_sql(project: Project, url_text: str, *statements: str) -> None:
    url = parse_url(url_text, project.root)
    impl = impl_for(url)
    conn = impl.connect(url)
    try:
        for sql in statements:
            impl.begin(conn, write=True)
            conn.execute(sql)
            impl.commit(conn)
    finally:
        conn.close()


def apply_of(project: Project, clock: FixedClock) -> str:
    store = project.open_store(clock)
    try:
        return failed_apply_id(store)
    finally:
        store.close()


def test_the_fix_is_drift_and_a_dropped_index_a_conflict(project, clock, backend) -> None:
    dialect, url = backend
    apply_id = apply_of(project, clock)
    target_sql(project, url, FIX)
    resolution_file(project, "redrive.yaml", reason="created legacy_items",
                    redrives=[{"apply": apply_id}])
    [action] = plan_json(project, clock)["actions"]
    assert (action["outcome"], action["drift"]) == ("change", ["table legacy_items added"])
    target_sql(project, url, DROP_INDEX[dialect])
    assert actions(project, clock)[f"redrive:{apply_id}"] == ("conflict", [
        "the schema of app lost or altered what it had when the apply failed "
        "(set accept_drift: true to redrive anyway):",
        "  index items_sku dropped since the apply failed",
    ])


def test_accept_drift_redrives_on_the_server(project, clock, backend) -> None:
    dialect, url = backend
    apply_id = apply_of(project, clock)
    target_sql(project, url, FIX, DROP_INDEX[dialect])
    resolution_file(project, "redrive.yaml", reason="created legacy_items, index dropped",
                    redrives=[{"apply": apply_id, "accept_drift": True}])
    [action] = plan_json(project, clock)["actions"]
    assert action["outcome"] == "change"
    assert action["drift"] == ["index items_sku dropped since the apply failed",
                               "table legacy_items added"]
    result = project.cli("apply", "--auto-approve", "--allow-dirty", clock=clock)
    assert result.exit_code == 0, result.output
    store = project.open_store(clock)
    [outcome] = project.run(store)
    store.close()
    assert outcome.apply_state == "completed"


RENAME = {"postgresql": 'ALTER TABLE items RENAME TO "{}"',
          "mysql": "ALTER TABLE items RENAME TO `{}`"}


@pytest.mark.parametrize("new_name", ["items2", "Items"])
def test_a_renamed_table_is_dropped_and_added_by_name(project, clock, backend,
                                                      new_name: str) -> None:
    # items is the target's only table: the rename replaces every key of `tables`
    dialect, url = backend
    apply_id = apply_of(project, clock)
    target_sql(project, url, RENAME[dialect].format(new_name))
    resolution_file(project, "redrive.yaml", reason="renamed items",
                    redrives=[{"apply": apply_id}])
    lines = ["table items dropped since the apply failed", f"table {new_name} added"]
    [action] = plan_json(project, clock)["actions"]
    assert (action["outcome"], action["drift"]) == ("conflict", lines)
    assert actions(project, clock)[f"redrive:{apply_id}"] == ("conflict", [
        "the schema of app lost or altered what it had when the apply failed "
        "(set accept_drift: true to redrive anyway):",
        "  table items dropped since the apply failed",
    ])
    resolution_file(project, "redrive.yaml", reason="renamed items",
                    redrives=[{"apply": apply_id, "accept_drift": True}])
    [action] = plan_json(project, clock)["actions"]
    assert (action["outcome"], action["drift"]) == ("change", lines)
