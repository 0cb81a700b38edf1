"""`setright run`, `status` and `issue get` against a MariaDB/MySQL target (the store is SQLite).

MySQL commits every DDL statement implicitly, so a change containing DDL runs
statement by statement with a marker after each, whatever its file says, and a
kill between a DDL statement and its marker is settled from information_schema.
Each test gets its own database (`mysql_url`).
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from planhelp import resolution_file
from runhelp import INTERRUPTED, Project, ctrl_c, wait_for
from serverhelp_mysql import mysql_admin, mysql_url  # noqa: F401 - fixtures
from setright.runner.targets import read_markers
from setright.timeutil import FixedClock
from targethelp import database_of, masked, mysql_rows, server_project, write_change

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")






def markers(url: str) -> list[tuple[Any, ...]]:
    if not mysql_rows(url, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?"
                           " AND TABLE_NAME = 'setright_markers'", database_of(url)):
        return []
    return mysql_rows(url, "SELECT change_id, seq FROM setright_markers ORDER BY 1, 2")


def columns(url: str, table: str) -> list[str]:
    return [r[0] for r in mysql_rows(
        url, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?"
             " AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", database_of(url), table)]


def cli(p: Project, url: str, *args: str, after_ms: int = 0) -> tuple[int, str]:
    result = p.cli(*args, clock=FixedClock(p.now_ms() + after_ms))
    return result.exit_code, masked(result.output, url)


@pytest.fixture
def project(tmp_path: Path, mysql_url: str) -> Project:  # noqa: F811
    return server_project(tmp_path / "p", mysql_url, ttl="1s")


def test_a_ddl_change_runs_statement_by_statement_with_a_load_warning(
        project: Project, mysql_url: str, snapshot) -> None:  # noqa: F811
    write_change(project, "_0001__customers", "id: customers\ntransactional: true\napply: |\n"
                 "  CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(80));\n"
                 "  INSERT INTO customers VALUES (1, 'Ada');\n"
                 "  ALTER TABLE customers ADD COLUMN email VARCHAR(120);\n")
    project.change("_0002__rename", apply="UPDATE customers SET name = 'Ada L.' WHERE id = 1;")
    code, out = cli(project, mysql_url, "run")
    assert code == 0, out
    assert ("Warning: changes/app/_0001__customers.yaml:4:3: $.apply: CREATE TABLE commits "
            "implicitly on this database: this change runs non-transactionally") in out
    assert "_0002__rename" not in out   # DML only: it stays one transaction, no warning
    assert out == snapshot(name="run")
    assert markers(mysql_url) == [("customers", 1), ("customers", 2), ("customers", 3),
                                  ("rename", 1)]
    assert columns(mysql_url, "customers") == ["id", "name", "email"]
    assert project.store_rows("SELECT change_id, transactional FROM setright_tasks"
                      " ORDER BY position") == [("customers", 0), ("rename", 1)]
    assert project.store_rows("SELECT change_id, tx_strategy FROM setright_audit_log"
                      " WHERE state = 'APPLIED' ORDER BY id") == [
        ("customers", "NON_TX"), ("rename", "TX_SEPARATE_WITH_MARKER")]
    code, out = cli(project, mysql_url, "status")
    assert code == 0 and out == snapshot(name="status")


def test_a_begin_not_atomic_block_runs(project: Project, mysql_url: str) -> None:  # noqa: F811
    """MariaDB's compound statement is its `DO` block: a body, not transaction control."""
    write_change(project, "_0001__block", "id: block\napply: |\n"
                 "  CREATE TABLE t2 (n INT);\n  BEGIN NOT ATOMIC\n    DECLARE x INT DEFAULT 7;\n"
                 "    INSERT INTO t2 VALUES (x);\n  END;\n")
    code, out = cli(project, mysql_url, "run")
    assert code == 0, out
    assert mysql_rows(mysql_url, "SELECT n FROM t2") == [(7,)]


def test_a_statement_committed_implicitly_though_not_ddl_is_never_called_rolled_back(
        project: Project, mysql_url: str) -> None:  # noqa: F811
    """MariaDB commits ANALYZE TABLE's transaction but keeps its in-transaction flag set: the
    runner must know such a statement before it runs, as it knows DDL."""
    project.change("_0001__t", apply="CREATE TABLE t1 (id INT PRIMARY KEY);")
    write_change(project, "_0002__analyze", "id: analyze\napply: |\n"
                 "  INSERT INTO t1 (id) VALUES (10);\n  ANALYZE TABLE t1;\n"
                 "  INSERT INTO t1 (id) VALUES (10);\n")
    code, out = cli(project, mysql_url, "run", "--max-attempts", "1")
    assert code == 1
    assert ("changes/app/_0002__analyze.yaml:4:3: $.apply: ANALYZE TABLE commits implicitly "
            "on this database: this change runs non-transactionally") in out
    assert markers(mysql_url) == [("analyze", 1), ("analyze", 2), ("t", 1)]
    code, out = cli(project, mysql_url, "issue", "get", "-c", "analyze")
    assert "2 of 3 operations committed" in out, out
    assert "rolled back" not in out and "rolled the transaction back" not in out


def test_two_ddl_statements_failing_on_the_second_leave_one_committed(
        project: Project, mysql_url: str, snapshot) -> None:  # noqa: F811
    project.change("_0001__invoices", apply="CREATE TABLE invoices (id INT PRIMARY KEY);\n"
                   "ALTER TABLE invoices ADD COLUMN id INT;")
    code, out = cli(project, mysql_url, "run")
    assert code == 1
    assert "rolled back" not in out and "ROLLED_BACK" not in out
    assert out == snapshot(name="run")
    # the server committed the first statement: it stays, and its marker says so
    assert columns(mysql_url, "invoices") == ["id"]
    assert markers(mysql_url) == [("invoices", 1)]
    code, out = cli(project, mysql_url, "issue", "get", "-c", "invoices")
    assert code == 0, out
    assert "Operations:    1 of 2 operations committed" in out
    assert "Committed:     operation 1: CREATE TABLE invoices (id INT PRIMARY KEY)\n" in out
    assert "Partial state: yes: 1 of 2 operations committed in app" in out
    assert "rolled the transaction back" not in out
    assert out == snapshot(name="issue")


def test_a_kill_between_ddl_and_its_marker_is_settled_from_information_schema(
        project: Project, mysql_url: str, snapshot) -> None:  # noqa: F811
    project.change("_0001__notes", apply="CREATE TABLE notes (id INT);\n"
                   "ALTER TABLE notes ADD COLUMN body TEXT;")
    project.change("_0002__more", apply="ALTER TABLE notes ADD COLUMN author VARCHAR(40);")
    crashed = project.spawn("run", fault="crash-before-marker:notes:2")
    crashed.communicate(timeout=60)
    assert crashed.returncode == -signal.SIGKILL
    # the column is there (DDL committed on its own); operation 2 has no marker
    assert columns(mysql_url, "notes") == ["id", "body"]
    assert markers(mysql_url) == [("notes", 1)]
    code, out = cli(project, mysql_url, "run", after_ms=5_000)
    assert code == 0, out
    assert out == snapshot
    audit = project.store_rows("SELECT state, metadata FROM setright_audit_log"
                       " WHERE change_id = 'notes' ORDER BY id")
    assert [state for state, _ in audit] == ["STARTED", "APPLIED"]
    assert json.loads(audit[1][1])["setright"]["recovered"] == (
        "recovered from target markers: 2 of 2 operations committed; operation 2 settled "
        "from the catalog: information_schema shows add column notes.body took effect")
    assert columns(mysql_url, "notes") == ["id", "body", "author"]


def test_a_kill_after_ddl_the_catalog_cannot_judge_is_reported_unknown(
        project: Project, mysql_url: str, snapshot) -> None:  # noqa: F811
    project.change("_0001__wide", apply="CREATE TABLE wide (id INT);")
    project.change("_0002__widen", apply="ALTER TABLE wide ADD COLUMN a INT, ADD COLUMN b INT;")
    crashed = project.spawn("run", fault="crash-before-marker:widen:1")
    crashed.communicate(timeout=60)
    assert crashed.returncode == -signal.SIGKILL
    # a reader settles the unreaped task from the markers, read-only
    config = project.config().targets["app"]
    assert read_markers(config, "ap-none", "widen") == []
    code, out = cli(project, mysql_url, "run", after_ms=5_000)
    assert code == 1
    assert ("widen: task failed: 0 of 1 operations committed; operation 1 unknown: DDL "
            "commits implicitly and information_schema cannot tell") in out
    code, out = cli(project, mysql_url, "issue", "get", "-c", "widen", after_ms=5_000)
    assert code == 0, out
    assert "Partial state: POSSIBLE: operation 1 is unknown: DDL commits implicitly" in out
    assert out == snapshot


def test_a_second_runner_is_refused_while_the_first_holds_get_lock(
        project: Project, mysql_url: str, snapshot) -> None:  # noqa: F811
    project.change("_0001__load", transactional=False,
                   apply="CREATE TABLE load_rows (id INT);\nINSERT INTO load_rows VALUES (1);")
    paused = project.spawn("run", fault="stop-after:load:1")
    try:
        wait_for(lambda: markers(mysql_url) == [("load", 1)])
        code, out = cli(project, mysql_url, "run", after_ms=5_000)
        assert code == 1
        assert "Lock Info:" in out and "Session:   held by connection <id>" in out
        assert out == snapshot
        assert project.store_rows("SELECT state FROM setright_applies") == [("running",)]
    finally:
        paused.kill()
        paused.communicate(timeout=30)
    # the server ends the killed runner's session, and with it GET_LOCK
    code, out = cli(project, mysql_url, "run", after_ms=5_000)
    assert code == 1 and "task failed: 1 of 2 operations committed" in out, out


def test_a_mark_waits_for_the_killed_runners_statement_to_end(
        project: Project, mysql_url: str, snapshot) -> None:  # noqa: F811
    """The server runs a killed runner's statement to its end, holding GET_LOCK: the
    change cannot be marked until that session ends (here: by the KILL the error names)."""
    project.change("_0001__slow", transactional=False,
                   apply="CREATE TABLE slow_rows (id INT);\nSELECT SLEEP(60);")
    runner = project.spawn("run")
    sleeping = "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(60)'"
    try:
        [(session,)] = wait_for(lambda: mysql_rows(mysql_url, sleeping))
    finally:
        runner.kill()
        runner.communicate(timeout=30)
    code, out = cli(project, mysql_url, "issue", "get", "-c", "slow", after_ms=5_000)
    assert code == 0, out
    assert out == snapshot(name="issue-get")
    code, out = cli(project, mysql_url, "issue", "get", "-c", "slow", "--json", after_ms=5_000)
    assert json.loads(out)["runner_session"]["end_with"] == "KILL <id>"
    fix = ("audit", "fix", "-c", "slow", "-r", "ROLLED_BACK", "--reason", "undone", "--yes")
    locks = "SELECT name, lock_id, owner FROM setright_locks ORDER BY name"
    before = project.store_rows(locks)
    code, out = cli(project, mysql_url, *fix, after_ms=5_000)
    assert code == 1
    assert out == snapshot(name="audit-fix")
    assert project.store_rows(locks) == before   # the runner's lease was not taken over
    assert project.store_rows("SELECT state FROM setright_applies") == [("running",)]
    undo = resolution_file(project, "undo.yaml", reason="undone",
                           resolutions=[{"change": "slow", "resolution": "ROLLED_BACK"}])
    code, out = cli(project, mysql_url, "plan", after_ms=5_000)
    assert code == 0
    assert out.splitlines()[0] == snapshot(name="plan-warning")
    undo.unlink()
    mysql_rows(mysql_url, f"KILL {int(session)}")
    wait_for(lambda: not mysql_rows(mysql_url, sleeping))
    code, out = cli(project, mysql_url, "issue", "get", "-c", "slow", "--json", after_ms=5_000)
    assert "runner_session" not in json.loads(out)
    code, out = cli(project, mysql_url, *fix, after_ms=5_000)
    assert code == 0, out
    assert project.store_rows("SELECT state FROM setright_applies") == [("failed",)]


def test_ctrl_c_stops_the_statement_on_the_server_and_settles_the_apply(
        project: Project, mysql_url: str) -> None:  # noqa: F811
    """Ctrl-C used to raise inside PyMySQL's read: the server ran the statement on, and the
    connection, out of step, could not settle the apply, whose lock stayed held until it
    expired. The runner now sends `KILL QUERY` and stops when the statement does."""
    project.change("_0001__slow", apply="SELECT SLEEP(600);")
    sleeping = "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(600)'"
    code, err = ctrl_c(project.spawn("run"), lambda: mysql_rows(mysql_url, sleeping))
    assert code == 1
    assert err.endswith(INTERRUPTED), err
    assert not mysql_rows(mysql_url, sleeping)
    assert project.store_rows("SELECT state, error FROM setright_applies") == [
        ("failed", "runner interrupted: KeyboardInterrupt")]
    assert project.store_rows("SELECT count(*) FROM setright_locks") == [(0,)]
    code, out = cli(project, mysql_url, "audit", "fix", "-c", "slow", "-r", "ROLLED_BACK",
                    "--reason", "interrupted before it did anything", "--yes")
    assert code == 0, out   # no session holds the runner's GET_LOCK any more
