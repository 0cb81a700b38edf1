"""MysqlTarget against a real server: implicit commits, markers, the fence, GET_LOCK, settling."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from serverhelp_mysql import mysql_admin, mysql_url  # noqa: F401 - fixtures
from setright.db import parse_url
from setright.db.mysql_lex import ddl_effect
from setright.db.mysql_target import MysqlTarget, TargetLocked
from setright.errors import LeaseLost
from setright.runner.targets import StatementFailed

LOCK = "lock-1"


@pytest.fixture
def target(mysql_url: str) -> Iterator[MysqlTarget]:
    t = MysqlTarget.open("app", parse_url(mysql_url, Path(".")))
    t.claim(LOCK, "me@host:1", "2026-11-22T12:00:00.000Z")
    yield t
    t.close()


def _tables(t: MysqlTarget) -> set[str]:
    return t.impl.table_names(t.conn)


def test_open_creates_markers_and_fence_readers_do_not(mysql_url: str) -> None:
    url = parse_url(mysql_url, Path("."))
    reader = MysqlTarget.open("app", url, read_only=True)
    assert _tables(reader) == set() and reader.markers("a", "c") == set()
    writer = MysqlTarget.open("app", url)
    assert _tables(writer) == {"setright_markers", "setright_runner_fence"}
    assert writer.location == url.where and "@" not in writer.location


def test_ddl_commits_implicitly_whatever_follows(target: MysqlTarget) -> None:
    """Why the runner must treat a DDL change as non-transactional on MySQL: the CREATE
    TABLE is committed by the server before the failing INSERT, and ROLLBACK cannot undo it."""
    with pytest.raises(StatementFailed) as info:
        with target.transaction(LOCK) as tx:
            tx.execute("INSERT INTO setright_markers VALUES ('before', 'c', 1, 't');"
                       " CREATE TABLE t (id INT PRIMARY KEY);"
                       " INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)")
    assert "Duplicate entry" in info.value.message
    assert "t" in _tables(target)                          # the DDL stayed
    assert target.markers("before", "c") == {1}          # and took the earlier insert along
    assert target.conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0  # after: rolled back


def test_after_an_implicit_commit_the_marker_is_fenced_again(target: MysqlTarget) -> None:
    with target.transaction(LOCK) as tx:
        tx.execute("CREATE TABLE t (id INT PRIMARY KEY)")
        assert tx.implicit_commits == 1 and target.conn.in_transaction  # reopened
        tx.add_marker("a1", "c1", 1, "2026-11-22T12:00:00.000Z")
    assert target.markers("a1", "c1") == {1}


def test_a_non_ddl_implicit_commit_is_refused_and_says_so(target: MysqlTarget) -> None:
    target.conn.execute("CREATE TABLE t (id INT)")
    with pytest.raises(StatementFailed, match="implicit commit"):
        with target.transaction(LOCK) as tx:
            tx.execute("INSERT INTO t VALUES (1); LOCK TABLES t WRITE")
    target.conn.execute("UNLOCK TABLES")
    assert target.conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1  # committed


def test_marker_is_atomic_with_its_dml(target: MysqlTarget) -> None:
    target.conn.execute("CREATE TABLE t (id INT PRIMARY KEY)")
    with target.transaction(LOCK) as tx:
        tx.execute("INSERT INTO t VALUES (1)")
        tx.add_marker("a1", "c1", 1, "t1")
    with pytest.raises(StatementFailed, match="already exists"):
        with target.transaction(LOCK) as tx:
            tx.execute("INSERT INTO t VALUES (2)")
            tx.add_marker("a1", "c1", 1, "t2")   # the marker exists: the DML must not stay
    assert [r[0] for r in target.conn.execute("SELECT id FROM t")] == [1]
    with target.transaction(LOCK) as tx:
        assert tx.delete_markers("a1", "c1") == 1
    assert target.markers("a1", "c1") == set()


def test_the_fence_refuses_a_stale_lock_id(target: MysqlTarget, mysql_url: str) -> None:
    other = MysqlTarget.open("app", parse_url(mysql_url, Path(".")))
    other.claim("lock-2", "them@host:2", "2026-11-22T12:01:00.000Z")
    target.conn.execute("CREATE TABLE t (id INT)")
    with pytest.raises(LeaseLost):
        with target.transaction(LOCK) as tx:
            tx.execute("INSERT INTO t VALUES (1)")
    with other.transaction("lock-2") as tx:
        tx.execute("INSERT INTO t VALUES (2)")
    assert [r[0] for r in target.conn.execute("SELECT id FROM t")] == [2]
    other.close()


def test_claim_waits_for_an_open_fenced_transaction(target: MysqlTarget, mysql_url: str) -> None:
    other = MysqlTarget.open("app", parse_url(mysql_url, Path(".")))
    claimed = threading.Event()
    with target.transaction(LOCK):
        thread = threading.Thread(target=lambda: (other.claim("lock-2", "o", "t"),
                                                  claimed.set()))
        thread.start()
        assert not claimed.wait(0.3)   # the fence row is locked FOR UPDATE
    thread.join()
    assert claimed.is_set()
    other.close()


def test_session_lock_excludes_a_second_runner(target: MysqlTarget, mysql_url: str) -> None:
    other = MysqlTarget.open("app2", parse_url(mysql_url, Path(".")))
    with target.session_lock(timeout=5):
        started = time.monotonic()
        with pytest.raises(TargetLocked) as info:
            other.acquire_session_lock(timeout=1)
        assert 0.9 <= time.monotonic() - started < 5
        assert "held by connection" in info.value.details[-1]
        assert info.value.details[:2] == ["Lock Info:", f"  ID:        {LOCK}"]
    with other.session_lock(timeout=1):   # free once released
        assert other.session_locks == [other.lock_name()]
    other.close()


def test_interrupt_kills_the_running_statement(target: MysqlTarget) -> None:
    timer = threading.Timer(0.3, target.interrupt)
    timer.start()
    started = time.monotonic()
    with pytest.raises(StatementFailed, match="interrupted"):
        with target.transaction(LOCK) as tx:
            tx.execute("SELECT SLEEP(10)")
    timer.join()
    assert time.monotonic() - started < 5
    target.conn.execute("SELECT 1")  # the connection is still usable


@pytest.mark.parametrize("setup, statement, present", [
    ("", "CREATE TABLE t (id INT)", False),
    ("CREATE TABLE t (id INT)", "CREATE TABLE t (id INT)", True),
    ("CREATE TABLE t (id INT)", "DROP TABLE t", False),
    ("", "DROP TABLE IF EXISTS t", True),
    ("CREATE TABLE t (id INT)", "ALTER TABLE t ADD COLUMN c INT", False),
    ("CREATE TABLE t (id INT, c INT)", "ALTER TABLE t ADD COLUMN C INT", True),
    ("CREATE TABLE t (id INT, c INT)", "ALTER TABLE t DROP COLUMN c", False),
    ("CREATE TABLE t (id INT)", "ALTER TABLE t DROP c", True),
    ("CREATE TABLE t (id INT)", "CREATE INDEX i ON t (id)", False),
    ("CREATE TABLE t (id INT, INDEX i (id))", "CREATE INDEX i ON t (id)", True),
    ("CREATE TABLE t (id INT, INDEX i (id))", "DROP INDEX i ON t", False),
    ("CREATE TABLE t (id INT)", "DROP INDEX i ON t", True),
    ("", "ALTER TABLE gone DROP COLUMN c", None),
    ("CREATE TABLE T (id INT)", "CREATE TABLE t (id INT)", False),  # table names keep case
    ("CREATE TABLE t (id INT)", "ALTER TABLE t MODIFY id BIGINT", None),
])
def test_settle_ddl(target: MysqlTarget, setup: str, statement: str,
                    present: bool | None) -> None:
    if setup:
        target.conn.execute(setup)
    lower = target.conn.execute("SELECT @@lower_case_table_names").fetchone()[0]
    if lower and setup.startswith("CREATE TABLE T "):
        pytest.skip("this server folds table names")
    assert target.settle_ddl(ddl_effect(statement)) is present
