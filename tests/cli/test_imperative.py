"""`audit fix` and `redrive` check what a resolution file is checked for, say what they did,
and take the file's `expect` as `--expect`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from planhelp import backfill_project, failed_apply_id, plan, resolution_file, state_and_ledger
from runhelp import Project, audit_states, normalise
from setright.timeutil import FixedClock



@pytest.fixture
def project(tmp_path: Path, clock: FixedClock) -> Project:
    """seed APPLIED; backfill FAILED (an issue) in a failed apply; add-index never ran."""
    return backfill_project(tmp_path / "proj", clock)


def require_ticket(project: Project) -> None:
    data = yaml.safe_load(project.config_path.read_text())
    data["policy"] = {"require_ticket": True}
    project.config_path.write_text(yaml.safe_dump(data, sort_keys=False))


def apply_id(project: Project, clock: FixedClock) -> str:
    store = project.open_store(clock)
    try:
        return failed_apply_id(store)
    finally:
        store.close()


FIX = ["audit", "fix", "-c", "backfill", "-r", "APPLIED", "--reason", "finished by hand", "--yes"]


@pytest.mark.parametrize("command", ["audit fix", "redrive"])
def test_the_ticket_policy_refuses_a_command_without_ticket(project, clock, command,
                                                            snapshot) -> None:
    require_ticket(project)
    args = FIX if command == "audit fix" else [
        "redrive", apply_id(project, clock), "--reason", "table created", "--yes"]
    before = state_and_ledger(project, clock)
    refused = project.cli(*args, clock=clock)
    assert refused.exit_code == 1
    assert (refused.stdout, refused.stderr) == snapshot
    assert state_and_ledger(project, clock) == before
    done = project.cli(*args, "--ticket", "OPS-12", clock=clock)
    assert done.exit_code == 0, done.output
    store = project.open_store(clock)
    tickets = {t for (t,) in store.conn.execute(
        "SELECT ticket FROM setright_events WHERE source = 'cli'")}
    store.close()
    assert tickets == {"OPS-12"}


def test_a_resolution_file_is_refused_by_the_same_policy_words(project, clock) -> None:
    """Same checks both ways: the file path names the same policy."""
    require_ticket(project)
    resolution_file(project, "r.yaml", resolutions=[{"change": "backfill",
                                                     "resolution": "APPLIED"}])
    code, out, err = plan(project, clock)
    assert code == 1
    assert "ticket is required (policy.require_ticket in setright.yaml)" in out + err
    refused = project.cli(*FIX, clock=clock)
    assert refused.stderr.startswith(
        "Error: ticket is required (policy.require_ticket in setright.yaml); pass --ticket")


def test_a_blank_ticket_does_not_satisfy_the_policy(project, clock) -> None:
    require_ticket(project)
    refused = project.cli(*FIX, "--ticket", "  ", clock=clock)
    assert refused.exit_code == 1 and "policy.require_ticket" in refused.stderr


def test_a_blank_reason_is_refused(project, clock) -> None:
    before = state_and_ledger(project, clock)
    result = project.cli("audit", "fix", "-c", "backfill", "-r", "APPLIED", "--reason", " ",
                         "--yes", clock=clock)
    assert result.exit_code == 1
    assert "Invalid value for --reason: must not be empty" in result.stderr
    assert state_and_ledger(project, clock) == before


@pytest.mark.parametrize("option,value", [
    ("--reason", "done\x1b[2J"), ("--reason", "done\rforged"), ("--ticket", "OPS-1\x1b[1m"),
    ("--ticket", "OPS-1\nError: forged"), ("APPLY_ID", "ap-\x1b]0;x\x07")])
def test_what_a_resolution_file_may_not_say_the_command_line_may_not_either(
        project, clock, option: str, value: str, snapshot) -> None:
    """An escape or a carriage return in a reason would reach the audit log and every
    terminal that shows it; refused by the resolution file's own schema, by option."""
    before = state_and_ledger(project, clock)
    args = {"--reason": [*FIX[:-3], "--reason", value, "--yes"],
            "--ticket": [*FIX, "--ticket", value],
            "APPLY_ID": ["redrive", value, "--reason", "table created", "--yes"]}[option]
    refused = project.cli(*args, clock=clock)
    assert refused.exit_code == 1
    last = refused.stderr.splitlines()[-1]
    assert last.startswith(f"Error: Invalid value for {option}: ")
    assert last.isprintable()
    assert last == snapshot
    assert state_and_ledger(project, clock) == before


def test_a_reason_of_several_lines_with_tabs_is_recorded(project, clock) -> None:
    done = project.cli(*FIX[:-3], "--reason", "finished by hand:\n\tsee OPS-1", "--yes",
                       clock=clock)
    assert done.exit_code == 0, done.output


def test_not_an_issue_says_to_pass_expect_and_expect_marks_it(project, clock, snapshot) -> None:
    before = state_and_ledger(project, clock)
    refused = project.cli("audit", "fix", "-c", "seed", "-r", "ROLLED_BACK", "--reason",
                          "re-seed", "--yes", clock=clock)
    assert refused.exit_code == 1
    assert refused.stderr == snapshot(name="refused")
    assert state_and_ledger(project, clock) == before
    # A list is a guard, not the deliberate override: it must name the state exactly.
    listed = project.cli("audit", "fix", "-c", "seed", "-r", "ROLLED_BACK", "--reason",
                         "re-seed", "--expect", "STARTED,APPLIED", "--yes", clock=clock)
    assert listed.exit_code == 1 and "pass --expect APPLIED" in listed.stderr
    assert state_and_ledger(project, clock) == before
    done = project.cli("audit", "fix", "-c", "seed", "-r", "rolled_back", "--reason",
                       "re-seed", "--expect", "applied", "--yes", clock=clock)
    assert done.exit_code == 0, done.output
    assert normalise(done.stdout) == snapshot(name="override")
    store = project.open_store(clock)
    assert audit_states(store, "seed")[-1] == "MANUAL_MARKED_AS_ROLLED_BACK"
    store.close()


def test_expect_is_a_guard_on_the_current_state(project, clock, snapshot) -> None:
    before = state_and_ledger(project, clock)
    refused = project.cli("audit", "fix", "-c", "backfill", "-r", "APPLIED", "--reason", "x",
                          "--expect", "STARTED", "--expect", "ROLLBACK_FAILED", "--yes",
                          clock=clock)
    assert refused.exit_code == 1
    assert refused.stderr == snapshot
    assert state_and_ledger(project, clock) == before
    held = project.cli("audit", "fix", "-c", "backfill", "-r", "APPLIED", "--reason", "x",
                       "--expect", "started,failed", "--yes", clock=clock)
    assert held.exit_code == 0, held.output


def test_expect_refuses_what_is_not_a_state(project, clock) -> None:
    before = state_and_ledger(project, clock)
    result = project.cli("audit", "fix", "-c", "backfill", "-r", "APPLIED", "--reason", "x",
                         "--expect", "FAILED,DONE", "--yes", clock=clock)
    assert result.exit_code == 1
    assert "Invalid value for '--expect': 'DONE' is not a change state" in result.stderr
    assert state_and_ledger(project, clock) == before


def test_flamingock_aliases_and_any_case(project, clock) -> None:
    result = project.cli("audit", "fix", "--change-id", "backfill", "--resolution", "applied",
                         "--reason", "x", "--yes", clock=clock)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "Fix complete! backfill is MANUAL_MARKED_AS_APPLIED."


def test_help_shows_the_choices_in_upper_case(project) -> None:
    fix = project.cli("audit", "fix", "--help").stdout
    assert "-c, --change-id, --change CHANGE_ID" in fix
    assert "-r, --resolution [APPLIED|ROLLED_BACK]" in fix
    assert "--expect STATE[,STATE]" in fix
    assert "--ticket TEXT" in project.cli("redrive", "--help").stdout


def test_redrive_says_redrive_complete(project, clock) -> None:
    ap = apply_id(project, clock)
    project.query("CREATE TABLE fix_me (id INTEGER)")
    redrive = project.cli("redrive", ap, "--reason", "created fix_me", "--yes", clock=clock)
    assert redrive.exit_code == 0, redrive.output
    assert normalise(redrive.stdout).splitlines()[-1] == (
        "Redrive complete! The next `setright run` resumes apply ap-<1> on app.")
    assert "Apply complete" not in redrive.stdout


@pytest.mark.parametrize("command", ["audit fix", "redrive"])
def test_a_declined_confirmation_names_the_command(project, clock, monkeypatch, command,
                                                   snapshot) -> None:
    monkeypatch.setattr("setright.cli.confirm.stdin_is_terminal", lambda: True)
    args = FIX[:-1] if command == "audit fix" else [
        "redrive", apply_id(project, clock), "--reason", "table created"]
    before = state_and_ledger(project, clock)
    result = project.cli(*args, clock=clock, input="no\n")
    assert result.exit_code == 1
    assert (normalise(result.stdout), result.stderr) == snapshot
    assert state_and_ledger(project, clock) == before


def test_a_confirmed_fix_writes(project, clock, monkeypatch) -> None:
    monkeypatch.setattr("setright.cli.confirm.stdin_is_terminal", lambda: True)
    result = project.cli(*FIX[:-1], clock=clock, input="yes\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "Fix complete! backfill is MANUAL_MARKED_AS_APPLIED."


def test_the_pull_request_goes_into_events_and_audit_metadata(project, clock,
                                                              monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_REF", "refs/pull/77/merge")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/db")
    assert project.cli(*FIX, clock=clock).exit_code == 0
    store = project.open_store(clock)
    [(event,)] = store.conn.execute("SELECT metadata FROM setright_events WHERE kind = 'mark'")
    [(audit,)] = store.conn.execute(
        "SELECT metadata FROM setright_audit_log WHERE state = 'MANUAL_MARKED_AS_APPLIED'")
    store.close()
    url = "https://github.example/acme/db/pull/77"
    assert json.loads(event)["pull_request"] == url
    assert json.loads(audit)["setright"]["pull_request"] == url


def test_an_unusable_setright_pr_is_an_error_and_writes_nothing(project, clock,
                                                               monkeypatch) -> None:
    monkeypatch.setenv("SETRIGHT_PR", "next week")
    before = state_and_ledger(project, clock)
    result = project.cli(*FIX, clock=clock)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "Error: SETRIGHT_PR='next week' is not a pull request number or URL")
    assert state_and_ledger(project, clock) == before
