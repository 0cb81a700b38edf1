"""The runner's small parts: SQLite targets, the fault hook, rollback choice, progress output."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click
import pytest

from setright.config import TargetConfig
from setright.errors import SetrightError
from setright.render.style import Style
from setright.runner.fault import Fault
from setright.runner.model import Change, Operation
from setright.runner.targets import SqliteTarget, StatementFailed, TargetError, open_target
from setright.runner.tasks import rollback_scripts


@pytest.fixture
def target(tmp_path: Path):  # type: ignore[no-untyped-def]
    t = SqliteTarget.open("app", tmp_path / "data" / "app.db", create=True)
    t.claim("me", "me@host:1", "now")
    yield t
    t.close()


def test_target_is_durable_and_has_markers(target) -> None:  # type: ignore[no-untyped-def]
    assert target.conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert target.conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    with target.transaction("me") as tx:
        tx.execute("CREATE TABLE t (id INTEGER)")
        tx.add_marker("ap-1", "c", 1, "2026-11-22T12:00:00.000Z")
    assert target.markers("ap-1", "c") == {1}
    assert target.markers("ap-1", "other") == set()


def test_markers_live_in_their_key_and_an_older_table_still_works(tmp_path: Path) -> None:
    """A new target's markers are WITHOUT ROWID (one b-tree: one page per marker commit);
    a target whose markers table predates that keeps it and is written the same way."""
    new = SqliteTarget.open("app", tmp_path / "new.db", create=True)
    [(sql,)] = new.conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'setright_markers'").fetchall()
    assert sql.endswith("WITHOUT ROWID")
    assert new.conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                            " AND tbl_name = 'setright_markers'").fetchone() == (0,)
    new.close()
    old = sqlite3.connect(tmp_path / "old.db")
    old.execute("CREATE TABLE setright_markers (apply_id TEXT NOT NULL, change_id TEXT NOT NULL,"
                " seq INTEGER NOT NULL, committed_at TEXT NOT NULL,"
                " PRIMARY KEY (apply_id, change_id, seq))")
    old.commit()
    old.close()
    target = SqliteTarget.open("app", tmp_path / "old.db", create=True)
    target.claim("me", "me@host:1", "now")
    with target.transaction("me") as tx:
        tx.add_marker("ap-1", "c", 1, "2026-11-22T12:00:00.000Z")
    with pytest.raises(StatementFailed, match="already exists"), target.transaction("me") as tx:
        tx.add_marker("ap-1", "c", 1, "2026-11-22T12:00:00.000Z")
    assert target.markers("ap-1", "c") == {1}
    target.close()


def test_a_step_may_hold_several_statements(target) -> None:  # type: ignore[no-untyped-def]
    with target.transaction("me") as tx:
        tx.execute("CREATE TABLE t (v TEXT);\nINSERT INTO t VALUES ('a;b');\n"
                   "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;")
    assert target.conn.execute("SELECT v FROM t").fetchall() == [("a;b",)]


def test_a_failed_statement_rolls_back_the_whole_transaction(target) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StatementFailed, match="no such table: nope"):
        with target.transaction("me") as tx:
            tx.execute("CREATE TABLE t (id INTEGER)")
            tx.add_marker("ap-1", "c", 1, "now")
            tx.execute("INSERT INTO nope VALUES (1)")
    assert not target.conn.in_transaction
    assert target.conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 't'").fetchone() == (0,)
    assert target.markers("ap-1", "c") == set()


def test_an_existing_marker_refuses_a_second_execution(target) -> None:  # type: ignore[no-untyped-def]
    with target.transaction("me") as tx:
        tx.execute("CREATE TABLE t (id INTEGER)")
        tx.add_marker("ap-1", "c", 1, "now")
    with pytest.raises(StatementFailed, match="committed before"):
        with target.transaction("me") as tx:
            tx.execute("INSERT INTO t VALUES (1)")
            tx.add_marker("ap-1", "c", 1, "now")
    assert target.conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_a_statement_that_commits_is_refused(target) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StatementFailed, match="ended the runner's transaction"):
        with target.transaction("me") as tx:
            tx.execute("CREATE TABLE t (id INTEGER); COMMIT;")


def test_missing_database_and_unsupported_urls(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="does not exist"):
        SqliteTarget.open("app", tmp_path / "none.db", create=False)
    for url in ("postgresql://u:s3cret@127.0.0.1:1/app", "mysql://u:s3cret@127.0.0.1:1/app"):
        spec = TargetConfig("srv", url + "?connect_timeout=2", tmp_path / "x", None)
        with pytest.raises(TargetError, match=r"target srv: .*127\.0\.0\.1:1/app") as info:
            open_target(spec, create=True)
        assert "s3cret" not in str(info.value) + "".join(info.value.details)


@pytest.mark.parametrize("text, parsed", [
    ("crash-after:add-index:2", Fault("crash-after", "add-index", 2)),
    ("stop-after:ns:with:colons:1", Fault("stop-after", "ns:with:colons", 1)),
])
def test_fault_parsing(text: str, parsed: Fault) -> None:
    assert Fault.parse(text) == parsed
    assert Fault.from_env({"SETRIGHT_FAULT": text}) == parsed
    assert Fault.from_env({}) is None


@pytest.mark.parametrize("text", ["crash-after:x", "crash-after:x:0", "explode:x:1",
                                  "crash-after::1", "crash-after:x:one"])
def test_bad_faults_are_refused(text: str) -> None:
    with pytest.raises(SetrightError, match="SETRIGHT_FAULT"):
        Fault.parse(text)


def test_fault_fires_only_for_its_change_and_operation(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    signals = []
    monkeypatch.setattr("setright.runner.fault.os.kill", lambda pid, sig: signals.append(sig))
    monkeypatch.setattr("setright.runner.fault.os._exit", lambda code: signals.append(code))
    fault = Fault("crash-after", "c", 2)
    fault.after_commit("other", 1, 5)
    fault.after_commit("c", 1, 1)
    fault.after_commit("c", 3, 3)
    assert signals == []
    fault.after_commit("c", 1, 3)            # a transactional change: after its COMMIT
    assert len(signals) == 2                 # SIGKILL, then the _exit fallback


def test_crash_before_marker_fires_between_statement_and_marker_only(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    signals = []
    monkeypatch.setattr("setright.runner.fault.os.kill", lambda pid, sig: signals.append(sig))
    monkeypatch.setattr("setright.runner.fault.os._exit", lambda code: signals.append(code))
    fault = Fault.parse("crash-before-marker:c:2")
    fault.after_commit("c", 1, 3)            # after a commit: not its moment
    fault.before_marker("c", 1)
    fault.before_marker("other", 2)
    assert signals == []
    fault.before_marker("c", 2)
    assert len(signals) == 2


def _change(*ops: Operation, rollback: str | None = None) -> Change:
    return Change("c", "app", None, False, "MANUAL_INTERVENTION", ops, rollback, None, "c1:x",
                  Path("c.yaml"), "c.yaml")


def test_rollback_choice() -> None:
    plain = (Operation(1, "A", "h1:a"), Operation(2, "B", "h1:b"))
    assert rollback_scripts(_change(*plain), {1}) is None
    assert rollback_scripts(_change(*plain, rollback="UNDO"), {1}) == ["UNDO"]
    steps = (Operation(1, "A", "h1:a", "UA", "h1:ua"), Operation(2, "B", "h1:b", "UB", "h1:ub"),
             Operation(3, "C", "h1:c", "UC", "h1:uc"))
    assert rollback_scripts(_change(*steps), {1, 2}) == ["UB", "UA"]
    assert rollback_scripts(_change(*steps), set()) == []
    partial = (Operation(1, "A", "h1:a"), Operation(2, "B", "h1:b", "UB", "h1:ub"))
    # a completed step without its own rollback cannot be undone exactly
    assert rollback_scripts(_change(*partial), {1}) is None
    assert rollback_scripts(_change(*partial), set()) == []


def test_progress_on_a_terminal_draws_a_bar_and_task_lines(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from setright.cli.printable import printable_output
    from setright.cli.progress import ProgressPrinter

    @click.command()
    def fake() -> None:
        with printable_output():  # as setright prints: its codes unsealed
            printer = ProgressPrinter(Style(), terminal=True)
            printer.target_started("app")
            printer.apply_started("ap-1", 1, 3, 0, 3, False)
            printer.operations_committed("a", 1)
            printer.task_finished(1, "a", "completed", "APPLIED", None)
            printer.operations_committed("b", 2)
            printer.task_finished(2, "b", "failed", "FAILED", "operation 2: boom")
            printer.apply_finished("ap-1", "failed", "boom")
            printer.close()

    monkeypatch.setattr("click._termui_impl.isatty", lambda stream: True)
    output = CliRunner().invoke(fake).output
    assert "Target app:" in output and "operations" in output
    assert "✓ [1] a: APPLIED" in output and "✗ [2] b: FAILED (operation 2: boom)" in output
    assert "apply ap-1 failed: boom" in output


def test_sqlite_errors_never_escape_as_tracebacks(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    target = SqliteTarget.open("app", path, create=True)
    target.claim("me", "me@h:1", "now")
    holder.execute("BEGIN EXCLUSIVE")
    target.conn.execute("PRAGMA busy_timeout = 50")
    with pytest.raises(StatementFailed, match="cannot begin"):
        with target.transaction("me"):
            pass  # pragma: no cover
    holder.execute("ROLLBACK")
    holder.close()
    target.close()


class TickingClock:
    """Moves one millisecond every time it is read: rows stamped from separate reads differ."""

    def __init__(self, start_ms: int) -> None:
        self.ms = start_ms

    def now_ms(self) -> int:
        self.ms += 1
        return self.ms


def test_a_changes_store_commit_stamps_its_rows_with_one_moment(tmp_path: Path) -> None:
    """Task done, its operation, the next task begun and both audit rows: one transaction,
    one time (the lease's fence read it), however the clock moves in between."""
    from runhelp import Project
    from setright.timeutil import ms_from_any
    from storehelp import T0

    project = Project(tmp_path / "p")
    project.change("_0001__one", apply="CREATE TABLE t (id INTEGER);")
    project.change("_0002__two", apply="INSERT INTO t VALUES (1);")
    store = project.open_store(TickingClock(T0))
    [outcome] = project.run(store)
    assert outcome.status == "completed"
    conn = store.conn
    done = conn.execute("SELECT completed_at FROM setright_tasks WHERE position = 1").fetchone()[0]
    begun = conn.execute("SELECT started_at FROM setright_tasks WHERE position = 2").fetchone()[0]
    op = conn.execute("SELECT completed_at FROM setright_operations WHERE change_id = 'one'"
                      ).fetchone()[0]
    events = {row[0] for row in conn.execute(
        "SELECT at FROM setright_events WHERE (kind = 'task' AND change_id = 'one'"
        " AND new_state = 'completed') OR (kind = 'operation' AND change_id = 'one')"
        " OR (kind = 'task' AND change_id = 'two' AND new_state = 'running')")}
    audit = {row[0] for row in conn.execute(
        f"SELECT created_at FROM {store.audit_table} WHERE (change_id = 'one'"
        " AND state = 'APPLIED') OR (change_id = 'two' AND state = 'STARTED')")}
    assert done == begun == op and events == {done}
    assert audit == {ms_from_any(done)}
    store.close()


def test_a_started_row_follows_a_later_row_the_cache_already_holds(tmp_path: Path) -> None:
    """The next change's STARTED row is timed from the cache row its transaction read
    (not read again): a row of that change stamped after "now" (another host's clock)
    still comes before it, so the fold ends at APPLIED, not at the older FAILED."""
    from runhelp import Project
    from setright.timeutil import FixedClock, ms_from_any
    from storehelp import T0, audit

    project = Project(tmp_path / "p")
    project.change("_0001__one", apply="CREATE TABLE t (id INTEGER);")
    project.change("_0002__two", apply="INSERT INTO t VALUES (1);")
    store = project.open_store(FixedClock(T0))
    ahead = T0 + 3_600_000
    audit(store, "two", "FAILED", at_ms=ahead, target="app", execution_id="elsewhere",
          recovery="ALWAYS_RETRY")
    store.conn.commit()
    [outcome] = project.run(store)
    assert outcome.status == "completed"
    rows = [(state, ms_from_any(at)) for state, at in store.conn.execute(
        f"SELECT state, created_at FROM {store.audit_table} WHERE change_id = 'two'"
        " ORDER BY id")]
    assert rows == [("FAILED", ahead), ("STARTED", ahead + 1), ("APPLIED", ahead + 2)]
    store.refresh()
    assert store.conn.execute("SELECT state FROM setright_change_state WHERE change_id = 'two'"
                              ).fetchone()[0] == "APPLIED"
    store.close()
