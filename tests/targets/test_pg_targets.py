"""`setright run`, `status` and `issue get` against a PostgreSQL target (the store is SQLite).

Each test gets its own database (`pg_url`). The URL carries a password the local
server (trust) ignores, so every output can be checked for it.
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
from serverhelp import pg_url  # noqa: F401 - fixture
from setright.db import parse_url
from setright.runner.targets import read_markers
from setright.timeutil import FixedClock
from targethelp import masked, pg_rows, server_project, write_change

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")

PASSWORD = "s3cret-pw"


def with_password(url: str) -> str:
    return url.replace("postgres@", f"postgres:{PASSWORD}@", 1)






def markers(url: str) -> list[tuple[Any, ...]]:
    import psycopg

    try:
        return pg_rows(url, "SELECT change_id, seq FROM setright_markers ORDER BY 1, 2")
    except psycopg.errors.UndefinedTable:  # no runner has prepared the target yet
        return []


def index_valid(url: str, name: str) -> list[tuple[Any, ...]]:
    return pg_rows(url, "SELECT x.indisvalid FROM pg_index x JOIN pg_class i"
                        " ON i.oid = x.indexrelid WHERE i.relname = %s", name)


def cli(p: Project, url: str, *args: str, after_ms: int = 0) -> tuple[int, str]:
    result = p.cli(*args, clock=FixedClock(p.now_ms() + after_ms))
    assert PASSWORD not in result.output
    return result.exit_code, masked(result.output, url)


@pytest.fixture
def project(tmp_path: Path, pg_url: str) -> Project:  # noqa: F811
    return server_project(tmp_path / "p", with_password(pg_url), ttl="1s")


def test_run_and_status_on_postgres_with_a_concurrent_index(project: Project, pg_url: str,
                                                            snapshot) -> None:  # noqa: F811
    project.change("_0001__users", apply="CREATE TABLE users (id INTEGER PRIMARY KEY,"
                   " email TEXT);\nINSERT INTO users VALUES (1, 'a@example.com');")
    write_change(project, "_0002__users_email", "id: users-email\napply: |\n"
                 "  -- lookups by email\n"
                 "  CREATE INDEX CONCURRENTLY users_email ON users (email);\n")
    code, out = cli(project, pg_url, "run")
    assert code == 0, out
    assert ("Warning: changes/app/_0002__users_email.yaml:4:3: $.apply: CREATE INDEX "
            "CONCURRENTLY cannot run inside a transaction") in out
    assert out == snapshot(name="run")
    # the concurrent build ran on its own, non-transactionally, and its marker followed
    assert markers(pg_url) == [("users", 1), ("users", 2), ("users-email", 1)]
    assert index_valid(pg_url, "users_email") == [(True,)]
    assert project.store_rows("SELECT change_id, transactional FROM setright_tasks"
                      " ORDER BY position") == [("users", 1), ("users-email", 0)]
    assert project.store_rows("SELECT change_id, tx_strategy FROM setright_audit_log"
                      " WHERE state = 'APPLIED' ORDER BY id") == [
        ("users", "TX_SEPARATE_WITH_MARKER"), ("users-email", "NON_TX")]
    code, out = cli(project, pg_url, "status")
    assert code == 0
    assert out == snapshot(name="status")
    code, out = cli(project, pg_url, "status", "--json")   # the URL, its password masked
    assert json.loads(out)["targets"][0]["url"].startswith("postgresql://postgres:***@")
    code, out = cli(project, pg_url, "run")
    assert code == 0 and "up-to-date" in out


def test_a_failing_transactional_change_leaves_nothing_schema_included(
        project: Project, pg_url: str, snapshot) -> None:  # noqa: F811
    project.change("_0001__accounts", apply="CREATE TABLE accounts (id INTEGER PRIMARY KEY);\n"
                   "CREATE INDEX accounts_by_id ON accounts (id);\n"
                   "INSERT INTO accounts VALUES ('not a number');")
    code, out = cli(project, pg_url, "run")
    assert code == 1
    assert "rolled back" in out or "FAILED" in out
    # PostgreSQL DDL is transactional: neither the table nor its index exists
    assert pg_rows(pg_url, "SELECT relname FROM pg_class WHERE relname LIKE 'accounts%'") == []
    assert markers(pg_url) == []
    code, out = cli(project, pg_url, "issue", "get", "-c", "accounts")
    assert code == 0, out
    assert "Partial state: no: the database rolled the transaction back" in out
    assert out == snapshot


def test_a_failed_concurrent_build_is_reported_as_an_invalid_index(
        project: Project, pg_url: str, snapshot) -> None:  # noqa: F811
    project.change("_0001__emails", apply="CREATE TABLE emails (address TEXT);\n"
                   "INSERT INTO emails VALUES ('a'), ('a');")
    write_change(project, "_0002__unique_email", "id: unique-email\napply: |\n"
                 "  CREATE UNIQUE INDEX CONCURRENTLY emails_address ON emails (address);\n")
    code, out = cli(project, pg_url, "run")
    assert code == 1
    assert "index emails_address exists but is INVALID" in out
    assert index_valid(pg_url, "emails_address") == [(False,)]
    assert markers(pg_url) == [("emails", 1), ("emails", 2)]
    code, out = cli(project, pg_url, "issue", "get", "-c", "unique-email")
    assert code == 0, out
    assert "Partial state: yes: index emails_address exists but is INVALID" in out
    assert out == snapshot


def test_a_kill_between_a_concurrent_build_and_its_marker_is_settled_from_pg_index(
        project: Project, pg_url: str, snapshot) -> None:  # noqa: F811
    project.change("_0001__orders", apply="CREATE TABLE orders (id INTEGER, customer INTEGER);")
    write_change(project, "_0002__orders_customer", "id: orders-customer\napply: |\n"
                 "  CREATE INDEX CONCURRENTLY orders_customer ON orders (customer);\n")
    project.change("_0003__orders_note", apply="ALTER TABLE orders ADD COLUMN note TEXT;")
    crashed = project.spawn("run", fault="crash-before-marker:orders-customer:1")
    crashed.communicate(timeout=60)
    assert crashed.returncode == -signal.SIGKILL
    # the index was built and committed on its own; its marker was never written
    assert index_valid(pg_url, "orders_customer") == [(True,)]
    assert markers(pg_url) == [("orders", 1)]
    code, out = cli(project, pg_url, "run", after_ms=5_000)   # the dead runner's lease is gone
    assert code == 0, out
    assert out == snapshot
    audit = project.store_rows("SELECT state, metadata FROM setright_audit_log"
                       " WHERE change_id = 'orders-customer' ORDER BY id")
    assert [state for state, _ in audit] == ["STARTED", "APPLIED"]
    assert json.loads(audit[1][1])["setright"]["recovered"] == (
        "recovered from target markers: 1 of 1 operations committed; operation 1 settled "
        "from the catalog: index orders_customer exists and is valid")
    assert pg_rows(pg_url, "SELECT count(*) FROM information_schema.columns"
                           " WHERE table_name = 'orders' AND column_name = 'note'") == [(1,)]


def test_a_kill_that_leaves_an_invalid_index_is_not_reported_done(
        project: Project, pg_url: str, snapshot) -> None:  # noqa: F811
    project.change("_0001__orders", apply="CREATE TABLE orders (id INTEGER, customer INTEGER);")
    write_change(project, "_0002__orders_customer", "id: orders-customer\napply: |\n"
                 "  CREATE INDEX CONCURRENTLY orders_customer ON orders (customer);\n")
    crashed = project.spawn("run", fault="crash-before-marker:orders-customer:1")
    crashed.communicate(timeout=60)
    assert crashed.returncode == -signal.SIGKILL
    # what an interrupted concurrent build leaves: the index, not valid (set by hand here,
    # as a build killed half-way leaves it)
    pg_rows(pg_url, "UPDATE pg_index SET indisvalid = false WHERE indexrelid ="
                    " 'orders_customer'::regclass RETURNING indisvalid")
    code, out = cli(project, pg_url, "run", after_ms=5_000)
    assert code == 1
    assert "operation 1 did not finish: index orders_customer exists but is INVALID" in out
    assert project.store_rows("SELECT state FROM setright_audit_log WHERE change_id ="
                      " 'orders-customer' ORDER BY id") == [("STARTED",)]
    code, out = cli(project, pg_url, "issue", "get", "-c", "orders-customer", after_ms=5_000)
    assert code == 0, out
    assert "0 of 1 operations committed" in out
    assert out == snapshot


def test_a_second_runner_is_refused_while_the_first_holds_the_session_lock(
        project: Project, pg_url: str, snapshot) -> None:  # noqa: F811
    project.change("_0001__load", transactional=False,
                   apply="CREATE TABLE load (id INTEGER);\nINSERT INTO load VALUES (1);")
    paused = project.spawn("run", fault="stop-after:load:1")
    try:
        wait_for(lambda: markers(pg_url) == [("load", 1)])
        # its lease (ttl 1s) has expired, so the store lock is free — the target is not
        code, out = cli(project, pg_url, "run", after_ms=5_000)
        assert code == 1
        assert "Lock Info:" in out and "Session:   held by PostgreSQL backend <id>" in out
        assert out == snapshot
        # nothing was reaped or written while the first runner may still commit
        assert project.store_rows("SELECT state FROM setright_applies") == [("running",)]
        assert markers(pg_url) == [("load", 1)]
    finally:
        paused.kill()
        paused.communicate(timeout=30)
    wait_for(lambda: pg_rows(pg_url, "SELECT count(*) FROM pg_locks WHERE locktype ="
                                     " 'advisory' AND database = (SELECT oid FROM pg_database"
                                     " WHERE datname = current_database())")[0][0] == 0)
    code, out = cli(project, pg_url, "run", after_ms=5_000)
    assert code == 1 and "task failed: 1 of 2 operations committed" in out


def test_an_unreachable_target_is_one_error_naming_host_and_database(
        tmp_path: Path, snapshot) -> None:
    p = server_project(tmp_path / "p", f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/nowhere"
                       "?connect_timeout=2")
    p.change("_0001__a", apply="CREATE TABLE a (id INTEGER)")
    result = p.cli("run", clock=FixedClock(p.now_ms()))
    assert result.exit_code == 1 and PASSWORD not in result.output
    errors = [line for line in result.output.splitlines() if "Error:" in line]
    assert len(errors) == 1 and "127.0.0.1:1/nowhere" in errors[0]
    assert "Traceback" not in result.output
    assert masked(result.output, "postgresql://x@h/nowhere") == snapshot


def test_readers_read_markers_without_creating_setright_tables(
        project: Project, pg_url: str) -> None:  # noqa: F811
    config = project.config().targets["app"]
    assert read_markers(config, "ap-x", "c") == []
    assert pg_rows(pg_url, "SELECT count(*) FROM pg_class WHERE relname LIKE 'setright%'"
                   ) == [(0,)]


def advisory_locks(url: str) -> int:
    return pg_rows(url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database"
                        " = (SELECT oid FROM pg_database WHERE datname = current_database())"
                   )[0][0]


def test_a_killed_runners_statement_is_cancelled_not_left_running(
        project: Project, pg_url: str) -> None:  # noqa: F811
    """The server checks every second that the runner is still connected, so a runner
    killed mid-statement does not leave the statement (and the session lock) running."""
    project.change("_0001__slow", apply="CREATE TABLE slow (id INTEGER);\n"
                   "SELECT pg_sleep(60);\nINSERT INTO slow VALUES (1);")
    runner = project.spawn("run")
    try:
        wait_for(lambda: pg_rows(pg_url, "SELECT count(*) FROM pg_stat_activity"
                                         " WHERE query LIKE 'SELECT pg_sleep(60)%'")[0][0])
    finally:
        runner.kill()
        runner.communicate(timeout=30)
    wait_for(lambda: advisory_locks(pg_url) == 0, timeout=15)   # not after 60 s
    assert pg_rows(pg_url, "SELECT to_regclass('slow')") == [(None,)]  # rolled back
    code, out = cli(project, pg_url, "audit", "fix", "-c", "slow", "-r", "ROLLED_BACK",
                    "--reason", "cancelled with its runner", "--yes", after_ms=5_000)
    assert code == 0, out


def test_ctrl_c_cancels_the_statement_and_settles_the_apply(
        project: Project, pg_url: str) -> None:  # noqa: F811
    project.change("_0001__slow", apply="CREATE TABLE slow (id INTEGER);\n"
                   "SELECT pg_sleep(600);")
    sleeping = ("SELECT count(*) FROM pg_stat_activity"
                " WHERE query LIKE 'SELECT pg_sleep(600)%'")
    code, err = ctrl_c(project.spawn("run"), lambda: pg_rows(pg_url, sleeping)[0][0])
    assert code == 1
    assert err.endswith(INTERRUPTED), err
    assert pg_rows(pg_url, sleeping) == [(0,)]
    assert pg_rows(pg_url, "SELECT to_regclass('slow')") == [(None,)]  # rolled back
    assert advisory_locks(pg_url) == 0
    assert project.store_rows("SELECT state, error FROM setright_applies") == [
        ("failed", "runner interrupted: KeyboardInterrupt")]
    assert project.store_rows("SELECT count(*) FROM setright_locks") == [(0,)]


def test_a_mark_is_refused_while_a_session_still_holds_the_runners_lock(
        project: Project, pg_url: str, snapshot) -> None:  # noqa: F811
    """A server that does not cancel it (PostgreSQL 13) keeps the killed runner's
    statement running: the change cannot be marked until that session ends."""
    import psycopg

    from setright.db.postgres import SESSION_LOCK_CLASS

    project.change("_0001__load", transactional=False,
                   apply="CREATE TABLE load (id INTEGER);\nINSERT INTO load VALUES (1);")
    paused = project.spawn("run", fault="stop-after:load:1")
    try:
        wait_for(lambda: markers(pg_url) == [("load", 1)])
    finally:
        paused.kill()
        paused.communicate(timeout=30)
    wait_for(lambda: advisory_locks(pg_url) == 0)
    fix = ("audit", "fix", "-c", "load", "-r", "ROLLED_BACK", "--reason", "undone", "--yes")
    with psycopg.connect(pg_url, autocommit=True) as lingering:  # the killed runner's session
        lingering.execute("SELECT pg_advisory_lock(%s, hashtext('setright.apply:public'))",
                          (SESSION_LOCK_CLASS,))
        code, out = cli(project, pg_url, "issue", "get", "-c", "load", after_ms=5_000)
        assert code == 0
        assert ("STILL RUNNING IN THE TARGET\n  PostgreSQL backend <id> still holds the runner's"
                " session lock on app:\n") in out
        code, out = cli(project, pg_url, *fix, after_ms=5_000)
        assert code == 1
        assert out == snapshot
        assert project.store_rows("SELECT state FROM setright_applies") == [("running",)]
        # a plan of the same mark says so before it is reviewed, and apply refuses it
        resolution_file(project, "undo.yaml", reason="undone",
                        resolutions=[{"change": "load", "resolution": "ROLLED_BACK"}])
        code, out = cli(project, pg_url, "plan", after_ms=5_000)
        assert code == 0
        assert out == snapshot
        plan = json.loads(cli(project, pg_url, "plan", "--json", after_ms=5_000)[1])
        assert [w for w in plan["warnings"] if "session" in w] == [
            line.removeprefix("Warning: ") for line in out.splitlines() if "session" in line]
        code, out = cli(project, pg_url, "apply", "--auto-approve", "--allow-dirty",
                        after_ms=5_000)
        assert code == 1
        assert "Error: target app: PostgreSQL backend <id> still holds" in out
        (project.root / "resolutions" / "undo.yaml").unlink()
    code, out = cli(project, pg_url, "plan", after_ms=5_000)   # the session ended: no warning
    assert "session" not in out
    # a target it cannot reach cannot say: refused too
    config = project.config_path.read_text()
    where = parse_url(pg_url, Path(".")).where
    assert where in config
    project.config_path.write_text(config.replace(where, "127.0.0.1:1/nowhere"))
    code, out = cli(project, pg_url, *fix, after_ms=5_000)
    assert code == 1
    assert "Error: target app: cannot connect to PostgreSQL at 127.0.0.1:1/nowhere" in out
    assert out.endswith("  marking 'load' checks first that no session of its runner still"
                        " runs there\n  nothing was written\n"), out
    undo = resolution_file(project, "undo.yaml", reason="undone",
                           resolutions=[{"change": "load", "resolution": "ROLLED_BACK"}])
    code, out = cli(project, pg_url, "plan", after_ms=5_000)
    assert code == 0
    assert out.startswith("Warning: 'load': whether a session of its runner still runs on"
                          " target app is unknown, so apply checks again and refuses if it"
                          " cannot: target app: cannot connect to PostgreSQL at 127.0.0.1:1/"
                          "nowhere"), out
    undo.unlink()
    project.config_path.write_text(config)
    code, out = cli(project, pg_url, *fix, after_ms=5_000)
    assert code == 0, out
    assert project.store_rows("SELECT state FROM setright_applies") == [("failed",)]
