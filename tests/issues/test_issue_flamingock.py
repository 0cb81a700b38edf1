"""`issue list` / `issue get` on a Flamingock-layout store (rows as a Flamingock runner writes them)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from setright.cli import cli
from setright.timeutil import FixedClock
from storehelp import T0, make_flamingock_db

CONFIG = """\
version: 1
store: {url: "sqlite:///flamingock.db", audit_table: flamingockAuditLog}
targets: {}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "setright.yaml").write_text(CONFIG)
    make_flamingock_db(tmp_path / "flamingock.db")
    return tmp_path


def invoke(runner: CliRunner, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, list(args), obj={"clock": FixedClock(T0)})


def test_issue_list(runner: CliRunner, project: Path, snapshot) -> None:
    result = invoke(runner, "issue", "list")
    assert result.exit_code == 0
    assert result.output == snapshot


def test_issue_list_ascii(runner: CliRunner, project: Path, snapshot) -> None:
    assert invoke(runner, "--ascii", "issue", "list").output == snapshot


def test_issue_list_json_and_exit_code(runner: CliRunner, project: Path, snapshot) -> None:
    result = invoke(runner, "issue", "list", "--json", "--exit-code")
    assert result.exit_code == 3
    data = json.loads(result.output)
    assert [i["reason"] for i in data["issues"]] == [
        "started-never-completed", "failed-non-transactional", "rollback-failed"]
    assert all(i["partial_state_possible"] for i in data["issues"])  # unknown is always possible
    assert result.output == snapshot


def test_live_flamingock_lock_means_running_not_an_issue(runner: CliRunner, project: Path) -> None:
    conn = sqlite3.connect(project / "flamingock.db")
    conn.execute("INSERT INTO flamingockLock VALUES ('lock', 'LOCK_HELD', 'r1', ?)", (T0 + 60_000,))
    conn.commit()
    conn.close()
    ids = [i["change_id"] for i in json.loads(invoke(runner, "issue", "list", "--json").output)["issues"]]
    assert ids == ["cache-warming-q4", "payment-processing"]
    result = invoke(runner, "issue", "get", "-c", "user-data-sync-v2")
    assert (result.exit_code, result.output) == (
        0, "Change 'user-data-sync-v2' is not an issue: STARTED (running; lock held by r1 until"
           " 2026-11-22T12:01:00.000Z)\n")


def test_issue_get_takes_the_oldest_first(runner: CliRunner, project: Path, snapshot) -> None:
    result = invoke(runner, "issue", "get")
    assert result.exit_code == 0
    assert result.output.startswith("ISSUE: user-data-sync-v2\n")
    assert result.output == snapshot


@pytest.mark.parametrize("change_id", ["cache-warming-q4", "payment-processing"])
def test_issue_get_by_id(runner: CliRunner, project: Path, snapshot, change_id: str) -> None:
    result = invoke(runner, "issue", "get", "-c", change_id)
    assert result.exit_code == 0
    assert result.output == snapshot


def test_not_an_issue(runner: CliRunner, project: Path) -> None:
    result = invoke(runner, "issue", "get", "-c", "create-users")
    assert (result.exit_code, result.output) == (0, "Change 'create-users' is not an issue: APPLIED\n")


@pytest.mark.parametrize("change_id", ["x", "it's", "ünï-✓", 'a"b'])
def test_unknown_change(runner: CliRunner, project: Path, change_id: str) -> None:
    result = invoke(runner, "issue", "get", "-c", change_id)
    assert result.exit_code == 1
    assert result.stderr == f"Error: no change {change_id!r} in the audit store\n"


def test_write_into_an_unwritable_folder_is_one_error_line(runner: CliRunner,
                                                           project: Path) -> None:
    import shutil

    shutil.rmtree(project / "resolutions", ignore_errors=True)
    (project / "resolutions").write_text("")               # the folder's name is a file
    result = invoke(runner, "issue", "get", "-c", "cache-warming-q4", "--write")
    assert result.exit_code == 1
    assert result.stderr == f"Error: cannot create the folder {project / 'resolutions'}: File exists\n"


def test_write_never_overwrites_and_names_the_file_it_wrote(runner: CliRunner, project: Path,
                                                             snapshot) -> None:
    result = invoke(runner, "issue", "get", "-c", "cache-warming-q4", "--write")
    assert result.exit_code == 0
    written = project / "resolutions" / "2026-11-22-cache-warming-q4.yaml"
    assert written.read_text() == snapshot
    import yaml

    data = yaml.safe_load(written.read_text())
    assert data["reason"] == "" and data["resolutions"][0]["expect"] == "FAILED"
    first = written.read_text()
    # a second incident on the same day: a free name, and the text names that one
    again = invoke(runner, "issue", "get", "-c", "cache-warming-q4", "--write")
    assert again.exit_code == 0, again.output
    second = project / "resolutions" / "2026-11-22-cache-warming-q4-2.yaml"
    assert second.read_text() == first and written.read_text() == first
    assert "Commit resolutions/2026-11-22-cache-warming-q4-2.yaml" in again.output
    assert "Wrote resolutions/2026-11-22-cache-warming-q4-2.yaml:" in again.output
    third = invoke(runner, "issue", "get", "-c", "cache-warming-q4")
    assert "Commit resolutions/2026-11-22-cache-warming-q4-3.yaml" in third.output


def test_issue_get_json(runner: CliRunner, project: Path) -> None:
    data = json.loads(invoke(runner, "issue", "get", "-c", "payment-processing", "--json").output)
    assert data["state"] == "ROLLBACK_FAILED" and data["partial_state_possible"] is True
    assert data["resolution_file"] == "2026-11-22-payment-processing.yaml"
    assert data["remaining_issues"] == 2 and data["guidance"]


@pytest.mark.parametrize("started", [True, False], ids=["with a STARTED change", "FAILED only"])
def test_the_list_of_a_flamingock_store_is_what_the_diagnosis_says(project: Path,
                                                                    started: bool) -> None:
    """Issues no setright apply touched are listed column by column (no row object), unless
    one's Error column comes from its apply (STARTED): both ways give the diagnosis' values."""
    from setright.cli.app import App
    from setright.store.diagnosis import diagnose_issues
    from setright.store.issue_list import IssueSummary, issue_overview, list_issues

    conn = sqlite3.connect(project / "flamingock.db")
    conn.execute("INSERT INTO flamingockAuditLog (execution_id, stage_id, change_id, author,"
                 " created_at, state, tx_strategy, target_system_id, recovery_strategy,"
                 " error_trace, metadata) VALUES ('exec-2', 'stage', 'tx-failed', 'flamingock',"
                 " ?, 'FAILED', NULL, 'user-db', 'MANUAL_INTERVENTION', 'boom', '{}')", (T0,))
    if not started:
        conn.execute("DELETE FROM flamingockAuditLog WHERE change_id = 'user-data-sync-v2'")
    conn.commit()
    conn.close()
    app = App(config_path=None, store_url=None, ascii_only=False, color=False, verbose=False,
              cwd=project, clock=FixedClock(T0))
    try:
        store = app.reader()
        now = store.now_ms()
        listed = list_issues(store.conn, now_ms=now)
        table, _ = issue_overview(store.conn, store.audit_table, now_ms=now, redrive_max_age=60)
        full = diagnose_issues(store.conn, store.audit_table, now_ms=now, redrive_max_age=60)
    finally:
        app.close()
    assert [s._asdict() for s in listed] == [
        {name: getattr(d, name) for name in IssueSummary._fields} for d in full]
    assert len(listed) == 3 + started
    assert (table._rows is None) is not started   # the way this case is meant to take


def test_an_issue_table_gives_rows_and_columns_alike() -> None:
    from setright.store.issue_list import IssueSummary, IssueTable, issue_columns

    rows = [IssueSummary(f"c{n}", "FAILED", "failed-non-transactional", None, None, "boom",
                         "NON_TX", None, None, None, None, None, n % 2 == 0) for n in range(3)]
    by_rows = IssueTable(rows=rows)
    by_columns = IssueTable(columns=dict(by_rows.columns))
    assert by_columns.rows == rows and list(by_columns) == rows and by_columns[1] == rows[1]
    assert len(by_columns) == len(by_rows) == 3 and by_columns and not IssueTable()
    assert issue_columns(rows) == by_columns.columns == by_rows.columns
    assert by_rows.columns["partial_state_possible"] == (True, False, True)
    assert issue_columns([])["change_id"] == () and len(IssueTable(rows=[])) == 0


def test_write_names_the_folder_the_config_names(runner: CliRunner, project: Path) -> None:
    config = project / "setright.yaml"
    config.write_text(config.read_text() + "resolutions: ops/decisions\n")
    result = invoke(runner, "issue", "get", "-c", "cache-warming-q4", "--write")
    assert result.exit_code == 0, result.output
    assert (project / "ops" / "decisions" / "2026-11-22-cache-warming-q4.yaml").is_file()
    assert "Commit ops/decisions/2026-11-22-cache-warming-q4.yaml (or run" in result.output
    assert "Wrote ops/decisions/2026-11-22-cache-warming-q4.yaml:" in result.output
    assert "resolutions/" not in result.output


def test_an_empty_change_id_is_refused_not_read_as_none(runner: CliRunner, project: Path) -> None:
    result = invoke(runner, "issue", "get", "-c", "", "--write")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "Error: Invalid value for --change-id: must not be empty"
    assert not (project / "resolutions").exists() or not any((project / "resolutions").iterdir())


def _hand_row(project: Path, change_id: str, state: str | None,
              target: str = "user-db") -> None:
    """A row someone wrote into the Flamingock table by hand."""
    with sqlite3.connect(project / "flamingock.db") as conn:
        conn.execute("INSERT INTO flamingockAuditLog (execution_id, change_id, author,"
                     " created_at, state, target_system_id) VALUES ('exec-9', ?, 'someone',"
                     f" {T0 + 60_000}, ?, ?)", (change_id, state, target))


def test_a_target_no_guard_can_name_is_left_out_of_the_suggested_file(
        runner: CliRunner, project: Path) -> None:
    """Before: `target: mongo:prod`, which validate refuses whatever the reason says."""
    _hand_row(project, "mongo-change", "FAILED", target="mongo:prod")
    result = invoke(runner, "issue", "get", "-c", "mongo-change", "--write")
    assert result.exit_code == 0, result.output
    path = project / "resolutions" / "2026-11-22-mongo-change.yaml"
    path.write_text(path.read_text().replace('reason: ""', 'reason: "checked by hand"'))
    assert "# no target: the audit log's target is not a name" in path.read_text()
    assert invoke(runner, "validate").exit_code == 0


def test_the_template_reads_target_names_as_the_schema_does() -> None:
    import json
    import re
    from importlib.resources import files

    from setright.resolutions.template import TARGET_NAME

    schema = json.loads(files("setright.schemas").joinpath("resolution.v1.json").read_text())
    pattern = schema["properties"]["resolutions"]["items"]["properties"]["target"]["pattern"]
    assert pattern == f"^{TARGET_NAME.pattern}$(?!\\n)"
    assert re.search(pattern, "mongo:prod") is None and TARGET_NAME.fullmatch("mongo:prod") is None


def test_a_null_state_is_listed_as_the_issue_issue_get_explains(runner: CliRunner,
                                                                project: Path) -> None:
    """Before: `issue list` and `status` left it out, while `issue get` and `plan` took it."""
    _hand_row(project, "nullstate", None)
    data = json.loads(invoke(runner, "issue", "list", "--json").output)
    assert ("nullstate", None, "unknown-state") in [
        (i["change_id"], i["state"], i["reason"]) for i in data["issues"]]
    assert "Status:        None (unknown state)" in invoke(runner, "issue", "get", "-c",
                                                           "nullstate").output


@pytest.mark.parametrize("state", ["BOGUS", "APPLIED\n  - change: other\n    resolution: "
                                            "ROLLED_BACK\n    expect: APPLIED"])
def test_a_state_setright_does_not_know_is_never_written_into_the_file(
        runner: CliRunner, project: Path, state: str) -> None:
    """Before: `expect: BOGUS` (which validate refuses), and a line break in the state wrote
    an entry of its own into the suggested file."""
    import yaml

    _hand_row(project, "odd", state)
    result = invoke(runner, "issue", "get", "-c", "odd", "--write")
    assert result.exit_code == 0, result.output
    written = (project / "resolutions" / "2026-11-22-odd.yaml").read_text()
    assert [r["change"] for r in yaml.safe_load(written)["resolutions"]] == ["odd"]
    assert "expect" not in yaml.safe_load(written)["resolutions"][0]
    assert "# no expect: the audit log's state is not one a resolution file can name" in written
    status = next(line for line in result.output.splitlines() if "Status:" in line)
    assert status == f"  Status:        {state.replace(chr(10), chr(92) + 'n')} (unknown state)"


def test_a_line_break_in_a_stored_state_stays_in_its_plan_line(runner: CliRunner,
                                                                project: Path) -> None:
    _hand_row(project, "odd", "FAILED\n+ resolution.fake   spoofed")
    (project / "resolutions").mkdir(exist_ok=True)
    (project / "resolutions" / "odd.yaml").write_text(
        "version: 1\nreason: checked by hand\nresolutions:\n"
        "  - change: odd\n    resolution: ROLLED_BACK\n")
    result = invoke(runner, "plan")
    assert result.exit_code == 0, result.output
    assert not any(line.startswith("+ resolution.fake") for line in result.output.splitlines())
    assert "FAILED\\n+ resolution.fake   spoofed" in result.output
