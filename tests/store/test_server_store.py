"""The audit store on PostgreSQL and MariaDB: the whole loop through the real CLI gives what
it gives on SQLite, word for word; concurrent applies, guards, read-only roles, a foreign
Flamingock table and unreachable servers. Each test has its own database."""

from __future__ import annotations

import difflib
import json
import re
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from planhelp import resolution_file
from runhelp import ACTOR, Project, mask
from serverhelp import pg_admin_connect, server_store_url, store_database  # noqa: F401
from setright.cli import cli
from setright.errors import SetrightError
from setright.store import Store
from setright.store.applies import get_apply
from setright.store.schema import AUDIT_COLUMN_NAMES
from setright.store.transitions import Provenance, move_apply
from setright.timeutil import FixedClock
from storehelp import T0

#: Every read command, with what it needs (the apply id and plan file are filled in).
READERS = [("issue", "list"), ("issue", "list", "--json"), ("status",), ("audit", "list"),
           ("audit", "list", "--history"), ("applies", "list"), ("applies", "show", "{apply}"),
           ("issue", "get", "-c", "load"), ("lock", "list"), ("history",), ("validate",),
           ("plan",), ("show", "{plan}")]


_MARK_ID = re.compile(r"\bfx-[0-9A-Z]{26}\b")
#: A mark row's execution_id: a fresh UUID, as Flamingock's `audit fix` writes (same width).
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def project_on(root: Path, store_url: str, **store: Any) -> Project:
    """A project whose store is `store_url` (targets: SQLite files), policy relaxed for tmp."""
    project = Project(root, store_url=store_url)
    config = yaml.safe_load(project.config_path.read_text())
    config["store"].update(store)
    config["policy"] = {"require_committed": False}
    project.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return project


def the_loop(project: Project) -> list[tuple[str, int, str]]:
    """run → every reader → audit fix → resolution file → plan → apply → readers again:
    (command, exit code, output with ids and times masked)."""
    clock = FixedClock(T0)
    project.change("_0001__seed", apply="CREATE TABLE t (id INTEGER PRIMARY KEY);")
    project.change("_0002__load", transactional=False,
                   apply="INSERT INTO t VALUES (1);\nINSERT INTO missing VALUES (1);")
    project.change("_0003__index", transactional=False, apply="CREATE INDEX t_nope ON nope (x);")
    out: list[tuple[str, int, str]] = []

    def cli(*args: str) -> str:
        result = project.cli(*args, clock=clock)
        root = str(project.root)
        out.append((mask(" ".join(args)).replace(root, "<root>"), result.exit_code,
                    _UUID.sub("u" * 36, _MARK_ID.sub(
                        "fx-<mark>", mask(result.output).replace(root, "<root>")))))
        assert "Traceback" not in result.output and "internal error" not in result.output, \
            result.output
        return result.output

    cli("run")
    clock.advance(1)
    apply_id = json.loads(cli("applies", "list", "--json"))["applies"][0]["id"]
    plan = project.root / "plan.json"
    resolution_file(project, "load.yaml", reason="row 1 checked by hand",
                    resolutions=[{"change": "load", "resolution": "APPLIED", "expect": "FAILED"}])
    cli("plan", "-o", str(plan))
    for reader in READERS:
        cli(*(a.format(apply=apply_id, plan=plan) for a in reader))
    cli("apply", str(plan))
    clock.advance(1)
    cli("audit", "fix", "-c", "index", "-r", "ROLLED_BACK", "--reason", "index dropped by hand")
    clock.advance(1)
    for reader in READERS[:-2]:
        cli(*(a.format(apply=apply_id, plan=plan) for a in reader))
    return out


@pytest.fixture(scope="module")
def on_sqlite(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, int, str]]:
    """The loop on SQLite, once: what every server must print too."""
    with store_database("sqlite") as url:
        return the_loop(project_on(tmp_path_factory.mktemp("sqlite"), url))


def test_the_whole_loop_prints_what_it_prints_on_sqlite(
        tmp_path: Path, server_store_url: str, on_sqlite: list[tuple[str, int, str]]) -> None:
    on_server = the_loop(project_on(tmp_path, server_store_url))
    assert [c for c, _, _ in on_server] == [c for c, _, _ in on_sqlite]
    for (command, code, text), (_, expected_code, expected) in zip(on_server, on_sqlite,
                                                                   strict=True):
        assert (command, code, text) == (command, expected_code, expected), "\n".join(
            difflib.unified_diff(expected.splitlines(), text.splitlines(), lineterm=""))
    # the loop did real work: one failed run, two decisions recorded
    assert any(c == "apply" and code == 0 for c, code, _ in
               [(c.split()[0], code, t) for c, code, t in on_server])
    assert "ISSUES FOUND" not in dict((c, t) for c, _, t in on_server)["issue list"]


# -- concurrency: guards on the server ------------------------------------------------------


def failed_apply(project: Project) -> str:
    """A project with one failed apply on `app`; returns its id."""
    project.change("_0001__load", transactional=False, apply="INSERT INTO missing VALUES (1);")
    result = project.cli("run", clock=FixedClock(T0))
    assert result.exit_code == 1, result.output
    store = project.open_store(FixedClock(T0))
    try:
        [(apply_id,)] = store.conn.execute("SELECT id FROM setright_applies").fetchall()
    finally:
        store.close()
    return str(apply_id)


def test_a_concurrent_transaction_cannot_defeat_a_guard(tmp_path: Path,
                                                        server_store_url: str) -> None:
    """Writer A reads the apply as `failed` and, still inside its transaction, moves it.
    Writer B starts while A is between its check and its commit, with the same
    check-then-move. B must not see the old state: it reads after A commits, finds the apply
    moved, and its guarded move (tried anyway) touches nothing. One move, one event."""
    project = project_on(tmp_path, server_store_url)
    apply_id = failed_apply(project)
    stores = [project.open_store(FixedClock(T0)) for _ in range(2)]
    a_checked = threading.Event()
    seen: dict[str, str] = {}
    outcomes: dict[str, str] = {}
    prov = Provenance(actor="tester", source="cli", reason="race")

    def writer(name: str, store: Store) -> None:
        try:
            with store.write() as tx:
                seen[name] = get_apply(tx, apply_id).state
                if name == "A":
                    a_checked.set()
                    time.sleep(0.5)   # B is now waiting to begin, or to read
                move_apply(tx, apply_id, ("failed",), "failed_retryable", prov,
                           at=store.now_iso(), fields={"attempt": 0})
            outcomes[name] = "moved"
        except SetrightError as exc:
            outcomes[name] = f"refused: {exc.message}"

    a = threading.Thread(target=writer, args=("A", stores[0]))
    a.start()
    assert a_checked.wait(20)
    b = threading.Thread(target=writer, args=("B", stores[1]))
    b.start()
    a.join(60)
    b.join(60)
    try:
        events = stores[0].conn.execute(
            "SELECT count(*) FROM setright_events WHERE apply_id = ? AND kind = 'apply'"
            " AND new_state = 'failed_retryable'", (apply_id,)).fetchone()[0]
        state = get_apply(stores[0].conn, apply_id).state
    finally:
        for store in stores:
            store.close()
    assert seen == {"A": "failed", "B": "failed_retryable"}, seen
    assert outcomes["A"] == "moved" and outcomes["B"].startswith("refused: "), outcomes
    assert state == "failed_retryable" and events == 1


# -- a role that may only read ----------------------------------------------------------


@contextmanager
def read_only_role(backend: str, url: str) -> Iterator[str]:
    """A login that may only SELECT in `url`'s database (PostgreSQL: CONNECT, USAGE and
    SELECT; MariaDB: SELECT); yields its URL; dropped afterwards."""
    name = "setright_ro_" + secrets.token_hex(4)
    parts = urlsplit(url)
    ro_url = urlunsplit(parts._replace(netloc=f"{name}@{parts.hostname}:{parts.port}"))
    database = parts.path.lstrip("/")
    if backend == "postgresql":
        admin = pg_admin_connect(url)
        try:
            admin.execute(f"CREATE ROLE {name} LOGIN")
            admin.execute(f"GRANT CONNECT ON DATABASE {database} TO {name}")
            admin.execute(f"GRANT USAGE ON SCHEMA public TO {name}")
            admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {name}")
            yield ro_url
        finally:
            admin.execute(f"DROP OWNED BY {name}")
            admin.execute(f"DROP ROLE IF EXISTS {name}")
            admin.close()
        return
    from setright.db.mysql import MysqlImpl
    from setright.db import parse_url

    admin = MysqlImpl().connect(parse_url(url, Path(".")))
    try:
        for host in ("127.0.0.1", "localhost", "%"):
            admin.execute(f"CREATE USER '{name}'@'{host}'")
            admin.execute(f"GRANT SELECT ON `{database}`.* TO '{name}'@'{host}'")
        yield ro_url
    finally:
        for host in ("127.0.0.1", "localhost", "%"):
            admin.execute(f"DROP USER IF EXISTS '{name}'@'{host}'")
        admin.close()


@dataclass
class ReadOnly:
    project: Project
    writer_url: str
    reader_url: str
    plan: Path
    apply_id: str


@pytest.fixture(scope="module", params=["postgresql", "mysql"])
def read_only(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadOnly]:
    """A store with an issue and a saved plan, and a role that may only read it (one
    database for the module: these tests only read, or are refused before writing)."""
    with store_database(request.param) as url:
        project = project_on(tmp_path_factory.mktemp(request.param), url)
        apply_id = failed_apply(project)
        resolution_file(project, "load.yaml", reason="checked by hand",
                        resolutions=[{"change": "load", "resolution": "APPLIED"}])
        plan = project.root / "plan.json"
        made = project.cli("plan", "-o", str(plan), clock=FixedClock(T0))
        assert made.exit_code == 0, made.output
        with read_only_role(request.param, url) as reader_url:
            yield ReadOnly(project, url, reader_url, plan, apply_id)


def cli_as(setup: ReadOnly, url: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--config", str(setup.project.config_path), "--store", url,
                                    *args], obj={"clock": FixedClock(T0)},
                              env={"SETRIGHT_ACTOR": "tester@example.com"})


def store_state(url: str) -> dict[str, list[tuple[Any, ...]]]:
    store = Store.open_reader(load_config_url(url))
    try:
        with store.read() as conn:
            return {t: sorted(map(tuple, conn.execute(f"SELECT * FROM {t}").fetchall()), key=repr)
                    for t in (*STATE_TABLES, "setright_locks", "setright_meta")}
    finally:
        store.close()


def load_config_url(url: str) -> Any:
    from setright.db import parse_url

    return parse_url(url, Path("."))


STATE_TABLES = ("setright_audit_log", "setright_applies", "setright_tasks",
                "setright_operations", "setright_events", "setright_ledger")


@pytest.mark.parametrize("reader", READERS, ids=[" ".join(r) for r in READERS])
def test_a_role_that_may_only_read_runs_every_reader(read_only: ReadOnly,
                                                     reader: tuple[str, ...]) -> None:
    args = [a.format(apply=read_only.apply_id, plan=read_only.plan) for a in reader]
    as_writer = cli_as(read_only, read_only.writer_url, *args)
    as_reader = cli_as(read_only, read_only.reader_url, *args)
    assert (as_reader.exit_code, mask(as_reader.output)) == (as_writer.exit_code, mask(as_writer.output)), as_reader.output
    assert (as_reader.exit_code, mask(as_reader.output)) == \
        (as_writer.exit_code, mask(as_writer.output))
    assert as_reader.exit_code in (0, 1) and not as_reader.output.startswith("Error:"), \
        as_reader.output


@pytest.mark.parametrize("command", [("apply", "{plan}"), ("run",),
                                     ("audit", "fix", "-c", "load", "-r", "APPLIED",
                                      "--reason", "x", "--yes")])
def test_a_role_that_may_only_read_cannot_write(read_only: ReadOnly,
                                                command: tuple[str, ...]) -> None:
    before = store_state(read_only.writer_url)
    result = cli_as(read_only, read_only.reader_url,
                    *(a.format(plan=read_only.plan) for a in command))
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 1 and len(errors) == 1, result.output
    assert "may only read" in errors[0] and "nothing was written" in errors[0], errors
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert store_state(read_only.writer_url) == before


# -- an existing Flamingock table -------------------------------------------

FLAMINGOCK_ROWS = [  # (change, state, Berlin wall-clock time as a Flamingock JVM there writes)
    ("create-users", "STARTED", "2026-11-22 12:59:00"),
    ("create-users", "APPLIED", "2026-11-22 12:59:00.250"),
    ("add-email", "STARTED", "2026-11-22 13:00:00"),
    ("add-email", "FAILED", "2026-11-22 13:00:01"),
]


class Admin:
    """A superuser connection to a test database, `?` placeholders on both servers."""

    def __init__(self, backend: str, url: str) -> None:
        from setright.db import impl_for

        self.parsed = load_config_url(url)
        self.impl = impl_for(self.parsed)
        self.conn = self.impl.connect(self.parsed)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.conn.execute(sql, params).fetchall()]


#: (backend, what the mark's created_at holds, when `audit list` says it was made): on
#: MySQL Flamingock's TIMESTAMP keeps whole seconds, so the mark is one second (not one ms)
#: after the FAILED row it fixes.
FLAMINGOCK_MARKS = {
    "postgresql": (datetime(2026, 11, 22, 13, 0, 1, 1000), "2026-11-22T12:00:01.001Z"),
    "mysql": (datetime(2026, 11, 22, 13, 0, 2), "2026-11-22T12:00:02.000Z"),
}


@pytest.mark.parametrize("backend", sorted(FLAMINGOCK_MARKS))
def test_an_existing_flamingock_table_is_read_and_fixed_in_place(tmp_path: Path,
                                                                 backend: str) -> None:
    from setright.db.mysql import flamingock_audit_ddl as mysql_ddl
    from setright.db.postgres import flamingock_audit_ddl as pg_ddl

    stored_mark, shown_mark = FLAMINGOCK_MARKS[backend]
    with store_database(backend) as url:
        admin = Admin(backend, url)
        try:
            admin.conn.execute((pg_ddl if backend == "postgresql" else mysql_ddl)(
                "flamingockAuditLog"))
            for change, state, local in FLAMINGOCK_ROWS:
                admin.conn.execute(
                    "INSERT INTO flamingockAuditLog (execution_id, change_id, author, created_at,"
                    " state, tx_strategy, target_system_id, recovery_strategy, transaction_flag,"
                    " system_change, error_trace) VALUES ('exec-1', ?, 'flamingock', ?, ?,"
                    " 'NON_TX', 'app', 'MANUAL_INTERVENTION', false, false, ?)",
                    (change, local, state, "java.sql.SQLException: boom" if state == "FAILED"
                     else None))
            project = project_on(tmp_path, url, audit_table="flamingockAuditLog",
                                 timezone="Europe/Berlin")
            clock = FixedClock(T0)
            listed = project.cli("issue", "list", "--json", clock=clock)
            assert listed.exit_code == 0, listed.output
            [issue] = json.loads(listed.output)["issues"]
            assert (issue["change_id"], issue["state"], issue["created_at"]) == \
                ("add-email", "FAILED", "2026-11-22T12:00:01.000Z")
            assert not [t for t in admin.impl.table_names(admin.conn)
                        if t.startswith("setright")]   # the reader made none
            fixed = project.cli("audit", "fix", "-c", "add-email", "-r", "APPLIED", "--reason",
                                "column added by hand", "--yes", clock=clock)
            assert fixed.exit_code == 0, fixed.output
            history = project.cli("audit", "list", "--json", clock=clock)
            states = {c["change_id"]: (c["state"], c["created_at"])
                      for c in json.loads(history.output)["changes"]}
            applied_at = ("2026-11-22T11:59:00.250Z" if backend == "postgresql"
                          else "2026-11-22T11:59:00.000Z")   # MySQL's TIMESTAMP: whole seconds
            assert states == {"create-users": ("APPLIED", applied_at),
                              "add-email": ("MANUAL_MARKED_AS_APPLIED", shown_mark)}
            # the mark is a Flamingock row in Flamingock's own types, Berlin wall-clock time
            [mark] = admin.rows("SELECT created_at, author, error_trace, transaction_flag"
                                " FROM flamingockAuditLog WHERE state = ?",
                                "MANUAL_MARKED_AS_APPLIED")
            assert mark[:3] == (stored_mark, ACTOR, "") and not mark[3]  # error_trace '', as Flamingock
            assert admin.impl.column_names(admin.conn, "flamingockAuditLog") == \
                list(AUDIT_COLUMN_NAMES)
        finally:
            admin.conn.close()


# -- stores that are not there ------------------------------------------------------------


def first_error(result: Any) -> str:
    lines = result.output.splitlines()
    assert result.exit_code == 1 and lines and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    return lines[0]


def test_an_empty_database_is_no_audit_store_for_readers(tmp_path: Path,
                                                         server_store_url: str) -> None:
    project = project_on(tmp_path, server_store_url)
    shown = load_config_url(server_store_url).shown
    for reader in (("issue", "list"), ("status",), ("audit", "list"), ("history",)):
        assert first_error(project.cli(*reader)) == f"Error: no audit store at {shown}"


def unreachable_urls(server_store_url: str) -> dict[str, str]:
    """A server that is down, an unknown login with a password, a missing database."""
    parts = urlsplit(server_store_url)
    return {
        "down": urlunsplit(parts._replace(netloc=f"{parts.username}:s3cret-pw@127.0.0.1:1")),
        "login": urlunsplit(parts._replace(
            netloc=f"nobody_{secrets.token_hex(3)}:s3cret-pw@{parts.hostname}:{parts.port}")),
        "database": urlunsplit(parts._replace(path="/setright_absent_" + secrets.token_hex(4))),
    }


def test_unreachable_servers_are_one_line_naming_host_and_database(
        tmp_path: Path, server_store_url: str) -> None:
    project = project_on(tmp_path, server_store_url)
    for kind, url in unreachable_urls(server_store_url).items():
        parsed = load_config_url(url)
        for command in (("issue", "list"), ("run",)):
            started = time.monotonic()
            result = CliRunner().invoke(cli, ["--config", str(project.config_path), "--store",
                                              url, *command])
            line = first_error(result)
            assert time.monotonic() - started < 15, kind
            assert "s3cret-pw" not in result.output, result.output
            if kind == "database" and command == ("issue", "list"):
                assert line == f"Error: no audit store at {parsed.shown}"
            else:
                assert parsed.where in line, (kind, line)


@pytest.mark.parametrize("url, module, extra", [
    ("postgresql://app:s3cret-pw@127.0.0.1/audit", "psycopg", "postgres"),
    ("mysql://app:s3cret-pw@127.0.0.1/audit", "pymysql", "mysql"),
])
def test_a_server_store_without_its_driver_says_how_to_install_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, module: str,
        extra: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)   # as if it were not installed
    project = project_on(tmp_path, url)
    for command in (("status",), ("run",)):
        result = project.cli(*command)
        assert result.exit_code == 1
        assert f"pip install 'setright[{extra}]'" in result.output, result.output
        assert "s3cret-pw" not in result.output and "Traceback" not in result.output


def test_a_row_committed_late_below_the_folded_id_is_still_folded() -> None:
    """PostgreSQL: a foreign writer (a Flamingock runner takes no setright lock) gets its id
    at INSERT and commits after setright appended and folded a higher one: readers and the
    next writer still fold it (`fold_lookback_ids`), where folding only `id >
    folded_audit_id` would lose it for good. (On MySQL the second writer's read of the log
    waits for the foreign INSERT instead.)"""
    from setright.db import parse_url

    with store_database("postgresql") as url_text:
        _late_row_is_folded(parse_url(url_text, Path(".")))


def test_on_mysql_a_writer_waits_for_a_foreign_insert_below_it() -> None:
    """Why MySQL needs no look-back: a setright writer's (SERIALIZABLE) read of the log
    waits until the foreign transaction commits, and then folds its row."""
    from setright.db import parse_url
    from setright.store.audit import append_audit_row, current_state

    with store_database("mysql") as url_text:
        url = parse_url(url_text, Path("."))
        store = Store.open(url, clock=FixedClock(T0))
        foreign = store.impl.connect(url)
        try:
            foreign.execute("BEGIN")
            _insert_foreign_row(store, foreign)
            done = threading.Event()

            def write() -> None:
                with store.write() as tx:
                    append_audit_row(tx, store.audit_table, {
                        "change_id": "later", "state": "APPLIED", "target_system_id": "app"},
                        now_ms=T0 + 9)
                done.set()

            writer = threading.Thread(target=write)
            writer.start()
            assert not done.wait(1.0)   # waiting on the foreign INSERT
            foreign.execute("COMMIT")
            writer.join(30)
            assert done.is_set()
            late = current_state(store.conn, "late")
            assert late is not None and late.state == "FAILED"
        finally:
            foreign.close()
            store.close()


def _insert_foreign_row(store: Store, foreign: Any) -> None:
    """A FAILED row of change `late`, as a foreign runner writes it (its transaction open)."""
    values = store.impl.audit_write_values(foreign, store.audit_table, {
        "change_id": "late", "state": "FAILED", "target_system_id": "app",
        "tx_strategy": "NON_TX", "error_trace": "boom"}, T0 + 5)
    foreign.execute(f"INSERT INTO {store.impl.quote(store.audit_table)}"
                    f" ({', '.join(values)}) VALUES ({', '.join('?' for _ in values)})",
                    list(values.values()))


def _late_row_is_folded(url: Any) -> None:
    from setright.store.audit import append_audit_row, current_state

    store = Store.open(url, clock=FixedClock(T0))
    foreign = store.impl.connect(url)
    try:
        with store.write() as tx:
            append_audit_row(tx, store.audit_table, {"change_id": "first", "state": "APPLIED",
                                                     "target_system_id": "app"}, now_ms=T0)
        foreign.execute("BEGIN")
        _insert_foreign_row(store, foreign)
        with store.write() as tx:   # a higher id, folded while the foreign row is unseen
            append_audit_row(tx, store.audit_table, {"change_id": "later", "state": "APPLIED",
                                                     "target_system_id": "app"}, now_ms=T0 + 9)
        foreign.execute("COMMIT")
        reader = Store.open_reader(url)
        try:
            with reader.read() as conn:
                seen = current_state(conn, "late")
        finally:
            reader.close()
        assert seen is not None and (seen.state, seen.error_summary) == ("FAILED", "boom")
        store.refresh()
        stored = current_state(store.conn, "late")
        assert stored is not None and stored.state == "FAILED"
    finally:
        foreign.close()
        store.close()
