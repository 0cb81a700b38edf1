"""The whole loop on a server: the audit store and two targets on PostgreSQL, then on
MariaDB/MySQL, driven by the real CLI (a real process where it is killed).

The quickstart's stories, in SQL both servers accept: a runner is SIGKILLed between the
two batches of a non-transactional change and reaped by the next run; a unique index
fails on a duplicate and spends its retry budget; `issue list` finds both, `issue get
--write` writes the files, `plan` and `apply` record the decisions, and the next `run`
completes everything. Each backend gets fresh databases, dropped afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from serverhelp import pg_admin_connect, pg_database
from serverhelp_mysql import mysql_admin, mysql_server, with_database  # noqa: F401 - fixture
from setright.cli import cli
from setright.db import parse_url
from setright.db.impl import impl_for

ACTOR = "tester@example.com"


@pytest.fixture(params=["postgresql", "mysql"])
def new_database(request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty databases on the backend under test (URL text)."""
    with ExitStack() as stack:
        if request.param == "postgresql":
            pg_admin_connect().close()  # skip off CI, fail under CI=true

            def make() -> str:
                return stack.enter_context(pg_database())
        else:
            admin = request.getfixturevalue("mysql_admin")

            def make() -> str:
                name = f"setright_t_{secrets.token_hex(6)}"
                admin.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 "
                              "COLLATE utf8mb4_bin")
                stack.callback(admin.execute, f"DROP DATABASE IF EXISTS {name}")
                return with_database(mysql_server(), name)
        yield make


class ServerProject:
    """A project folder whose store and targets are server databases."""

    def __init__(self, root: Path, store: str, targets: dict[str, str]) -> None:
        self.root = root
        self.urls = targets
        config = {
            "version": 1,
            "store": {"url": store},
            "targets": {t: {"url": url, "changes": f"changes/{t}"} for t, url in targets.items()},
            "run": {"max_attempts": 1},
            "lock": {"ttl": "2s"},
            "policy": {"require_committed": False},
        }
        root.mkdir(parents=True)
        (root / "setright.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    def change(self, target: str, name: str, **fields: Any) -> None:
        folder = self.root / "changes" / target
        folder.mkdir(parents=True, exist_ok=True)
        data = {"id": name.split("__", 1)[1], **fields}
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))

    def setright(self, *args: str, expect: int = 0) -> str:
        """The real CLI, in this process (a crash needs a process of its own: `crash`)."""
        result = CliRunner().invoke(cli, ["--config", str(self.root / "setright.yaml"), *args],
                                    env={"SETRIGHT_ACTOR": ACTOR, "SETRIGHT_STORE": None})
        output = result.output
        assert "Traceback" not in output and "internal error" not in output, output
        assert result.exit_code == expect, f"setright {' '.join(args)} → {result.exit_code}\n{output}"
        return result.stdout

    def crash(self, *args: str, fault: str) -> None:
        """A real `setright` process that SIGKILLs itself at `fault` (SETRIGHT_FAULT)."""
        env = {**os.environ, "SETRIGHT_ACTOR": ACTOR, "NO_COLOR": "1", "SETRIGHT_FAULT": fault}
        env.pop("SETRIGHT_STORE", None)
        proc = subprocess.run([sys.executable, "-m", "setright", *args], cwd=self.root,
                              env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == -9, proc.stdout + proc.stderr

    def sql(self, target: str, statement: str) -> list[tuple[Any, ...]]:
        """What an operator does by hand in a target database."""
        url = parse_url(self.urls[target], self.root)
        impl = impl_for(url)
        conn = impl.connect(url)
        try:
            impl.begin(conn, write=True)
            cur = conn.execute(statement)
            rows = list(cur.fetchall()) if cur.description else []
            impl.commit(conn)
            return rows
        finally:
            conn.close()


def test_the_whole_loop(tmp_path: Path, new_database: Callable[[], str]) -> None:
    project = ServerProject(tmp_path / "p", new_database(),
                            {"app": new_database(), "billing": new_database()})
    project.change("app", "_0001__create-users", apply=(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL, v INTEGER NOT NULL);\n"
        "INSERT INTO users (id, name, v) VALUES (1, 'ada', 1), (2, 'bob', 1), (3, 'cy', 1), (4, 'di', 1);\n"))
    project.change("app", "_0002__users-v2", transactional=False, apply=(
        "UPDATE users SET v = 2 WHERE id <= 2;\n"
        "UPDATE users SET v = 2 WHERE id > 2;\n"))
    project.change("billing", "_0001__create-invoices", apply=(
        "CREATE TABLE invoices (id INTEGER PRIMARY KEY, number VARCHAR(20) NOT NULL);\n"
        "INSERT INTO invoices (id, number) VALUES (1, 'INV-1'), (2, 'INV-2'), (3, 'INV-2');\n"))
    project.change("billing", "_0002__invoices-number-unique",
                   apply="CREATE UNIQUE INDEX invoices_number ON invoices (number);\n")

    # 1. The runner dies right after the first batch of users-v2 committed.
    project.crash("run", "-t", "app", fault="crash-after:users-v2:1")
    assert project.sql("app", "SELECT id FROM users WHERE v = 2 ORDER BY id") == [(1,), (2,)]
    time.sleep(2.5)  # its lease (lock.ttl 2s) expires

    # 2. The next run reaps it and hits the duplicate.
    out = project.setright("run", expect=1)
    assert "invoices-number-unique" in out

    # 3. What needs a human?
    issues = json.loads(project.setright("issue", "list", "--json"))
    found = sorted(i["change_id"] for i in issues["issues"])
    assert found == ["invoices-number-unique", "users-v2"], issues
    project.setright("issue", "list", "--exit-code", expect=3)
    detail = project.setright("issue", "get", "-c", "users-v2")
    assert "1 of 2" in detail, detail

    # 4. Decide, fix by hand, write it down.
    project.sql("app", "UPDATE users SET v = 2 WHERE id > 2")
    project.sql("billing", "DELETE FROM invoices WHERE id = 3")
    for change in ("users-v2", "invoices-number-unique"):
        project.setright("issue", "get", "-c", change, "--write")
    for path in sorted((project.root / "resolutions").glob("*.yaml")):
        text = path.read_text().replace('reason: ""', 'reason: "checked by hand"', 1)
        path.write_text(text)
    project.setright("validate")

    # 5. Plan, then apply the saved plan.
    project.setright("plan", "--detailed-exitcode", expect=2)
    saved = str(project.root / "plan.json")
    project.setright("plan", "-o", saved)
    project.setright("apply", saved)
    assert json.loads(project.setright("issue", "list", "--json"))["issues"] == []

    # 6. Run again: everything completes, and history shows what was decided.
    project.setright("run")
    status = json.loads(project.setright("status", "--json"))
    assert status, status
    project.setright("issue", "list", "--exit-code")
    assert project.sql("billing", "SELECT count(*) FROM invoices") == [(2,)]
    history = json.loads(project.setright("history", "--json"))["history"]
    assert len(history) == 2, history


def test_ids_differing_only_in_case_are_two_changes_on_mysql(tmp_path: Path,
                                                             mysql_admin: Any) -> None:
    """In a database made with the server's default collation (which folds case), as a
    team's DBA makes one: `foo` and `Foo` are two changes, each run once, as on SQLite."""
    names = []
    for _ in range(2):
        name = f"setright_t_{secrets.token_hex(6)}"
        mysql_admin.execute(f"CREATE DATABASE {name}")
        names.append(name)
    try:
        store, target = (with_database(mysql_server(), n) for n in names)
        project = ServerProject(tmp_path / "p", store, {"app": target})
        project.change("app", "_0001__seed", apply="CREATE TABLE counter (v INTEGER);")
        project.change("app", "_0002__foo", apply="INSERT INTO counter (v) VALUES (1);")
        project.change("app", "_0003__Foo", apply="INSERT INTO counter (v) VALUES (2);")
        for _ in range(2):
            project.setright("run")
        assert sorted(project.sql("app", "SELECT v FROM counter")) == [(1,), (2,)]
        listed = json.loads(project.setright("audit", "list", "--json"))
        rows = listed if isinstance(listed, list) else listed["changes"]
        assert sorted((r["change_id"], r["state"]) for r in rows) == [
            ("Foo", "APPLIED"), ("foo", "APPLIED"), ("seed", "APPLIED")]
    finally:
        for name in names:
            mysql_admin.execute(f"DROP DATABASE IF EXISTS {name}")


def test_a_case_folding_flamingock_table_keeps_foo_and_Foo_apart(tmp_path: Path,
                                                                   mysql_admin: Any) -> None:
    """A Flamingock table in the server's default collation (case-insensitive, PAD SPACE),
    which setright does not change: `Foo` FAILED and `foo` APPLIED are two changes, as
    Flamingock's own (Java) comparison makes them. Before, the fold took them for one:
    `Foo` was no issue, `issue get -c Foo` found no change, and `foo`'s history showed
    `Foo`'s rows."""
    from setright.db.mysql import flamingock_audit_ddl

    name = f"setright_t_{secrets.token_hex(6)}"
    mysql_admin.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"
                        " COLLATE utf8mb4_general_ci")
    try:
        url = with_database(mysql_server(), name)
        conn = impl_for(parse_url(url, tmp_path)).connect(parse_url(url, tmp_path))
        conn.execute(flamingock_audit_ddl("flamingockAuditLog")
                     + " CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        conn.executemany(
            "INSERT INTO flamingockAuditLog (execution_id, change_id, author, created_at, state,"
            " tx_strategy, target_system_id) VALUES (?, ?, 'flamingock', ?, ?, 'NON_TX', 'app')",
            [("e1", "Foo", "2026-01-01 00:00:00", "STARTED"),
             ("e1", "Foo", "2026-01-01 00:00:01", "FAILED"),
             ("e2", "foo", "2026-01-01 00:00:02", "APPLIED"),
             ("e3", "foo ", "2026-01-01 00:00:03", "FAILED")])
        conn.close()
        project = ServerProject(tmp_path / "p", url, {})
        config = yaml.safe_load((project.root / "setright.yaml").read_text())
        config["store"]["audit_table"] = "flamingockAuditLog"
        (project.root / "setright.yaml").write_text(yaml.safe_dump(config))
        issues = json.loads(project.setright("issue", "list", "--json"))["issues"]
        assert sorted((i["change_id"], i["state"]) for i in issues) == [
            ("Foo", "FAILED"), ("foo ", "FAILED")]
        assert "Started:       2026-01-01T00:00:00.000Z" in project.setright(
            "issue", "get", "-c", "Foo")
        history = json.loads(project.setright("audit", "list", "--history", "-c", "foo",
                                              "--json"))
        rows = history if isinstance(history, list) else history["rows"]
        assert [(r["change_id"], r["state"]) for r in rows] == [("foo", "APPLIED")]
    finally:
        mysql_admin.execute(f"DROP DATABASE IF EXISTS {name}")


def test_a_writer_other_than_run_creates_no_store_in_an_empty_database(
        tmp_path: Path, new_database: Callable[[], str]) -> None:
    """A mistyped store database must not gain setright's tables from a refused command."""
    store = new_database()
    project = ServerProject(tmp_path / "p", store, {})
    for args in (["lock", "release", "abc"], ["applies", "cancel", "ap-x", "--reason", "r",
                                              "--yes"], ["store", "migrate", "--to",
                                                         "sqlite:///copy.db"]):
        result = CliRunner().invoke(cli, ["--config", str(project.root / "setright.yaml"),
                                          *args], env={"SETRIGHT_STORE": None})
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("Error: no audit store at "), result.stderr
    url = parse_url(store, project.root)
    conn = impl_for(url).connect(url)
    try:
        assert impl_for(url).table_names(conn) == set()
    finally:
        conn.close()
