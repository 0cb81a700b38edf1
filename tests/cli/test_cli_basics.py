"""The command group: help, version, exit codes, error format, lazy imports, init."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from setright.cli import cli


def test_help_and_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0 and "resolution-as-code" in result.output
    result = runner.invoke(cli, ["--version"])
    assert (result.exit_code, result.output) == (0, "setright, version 0.1.0\n")


def test_no_arguments_shows_help(runner: CliRunner) -> None:
    result = runner.invoke(cli, [])
    assert result.exit_code == 0 and "Usage:" in result.output


@pytest.mark.parametrize("args", [["nosuch"], ["audit", "list", "--bogus"], ["lock", "release"],
                                  ["audit", "list", "--since", "yesterday-ish"]])
def test_usage_errors_exit_1_never_2(runner: CliRunner, tmp_path, monkeypatch, args) -> None:
    monkeypatch.chdir(tmp_path)
    runner.invoke(cli, ["init"])
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert "Error:" in result.stderr


def test_missing_config_is_one_error_line(runner: CliRunner, tmp_path, monkeypatch, snapshot) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SETRIGHT_STORE", raising=False)
    result = runner.invoke(cli, ["audit", "list"])
    assert result.exit_code == 1
    assert result.stderr.replace(str(tmp_path.resolve()), "<tmp>") == snapshot
    assert "Traceback" not in result.output


def test_bad_config_through_the_cli(runner: CliRunner, tmp_path, monkeypatch, snapshot) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "setright.yaml").write_text("version: 1\nstore: {url: 7}\ntargets: {}\n")
    result = runner.invoke(cli, ["audit", "list"])
    assert result.exit_code == 1
    assert result.stderr == snapshot
    assert not (tmp_path / ".setright").exists()  # nothing created on bad input


def test_help_does_not_import_heavy_modules() -> None:
    code = ("import sys; from setright.cli import main; sys.argv = ['setright', '--help'];\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('deepdiff', 'jsonschema', 'sqlite_utils', 'sqlite3', 'yaml')"
            " if m in sys.modules]\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout


def test_python_dash_m(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "setright", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "setright, version 0.1.0"


def test_init_creates_the_layout_and_refuses_to_overwrite(runner: CliRunner, tmp_path, monkeypatch,
                                                          snapshot) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["init"])
    assert result.exit_code == 0
    assert result.output.replace(str(tmp_path.resolve()), "<tmp>") == snapshot
    for path in ("setright.yaml", "resolutions", "changes", ".setright/.gitignore"):
        assert (tmp_path / path).exists()
    # the commented config it writes is itself valid
    from setright.config import load_config

    assert load_config(tmp_path / "setright.yaml").targets == {}
    again = runner.invoke(cli, ["init"])
    assert again.exit_code == 1 and "already exists; not overwriting it" in again.stderr
    # init created the store, so a read command works in that folder at once
    assert (tmp_path / ".setright" / "audit.db").exists()
    listed = runner.invoke(cli, ["audit", "list"])
    assert (listed.exit_code, listed.output) == (0, "No changes in the audit store.\n")


@pytest.mark.parametrize("into", [None, "new/project"])
def test_an_init_whose_store_fails_leaves_nothing_and_runs_again(runner: CliRunner, tmp_path,
                                                                 monkeypatch, into) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    args = [into] if into else []
    failed = runner.invoke(cli, ["--store", "postgresql://ops@127.0.0.1:1/audit"
                                 "?connect_timeout=2", "init", *args])
    assert failed.exit_code == 1 and failed.stderr.startswith("Error: cannot open"), failed.output
    assert "Created" not in failed.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]   # as it was
    again = runner.invoke(cli, ["init", *args])
    assert again.exit_code == 0, again.output
    assert (tmp_path / (into or ".") / ".setright" / "audit.db").exists()


def test_locked_store_is_one_error_and_untouched(runner: CliRunner, tmp_path, monkeypatch) -> None:
    import sqlite3

    monkeypatch.chdir(tmp_path)
    runner.invoke(cli, ["init"])
    assert runner.invoke(cli, ["audit", "list"]).exit_code == 0
    blocker = sqlite3.connect(tmp_path / ".setright" / "audit.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process is mid-write
    blocker.execute(
        "INSERT INTO setright_audit_log (change_id, state, created_at) VALUES ('c', 'FAILED', 1)")
    try:
        # a writer waits for the write lock, then gives up (a reader is not blocked:
        # tests/cli/test_readers.py)
        result = runner.invoke(cli, ["lock", "release", "lk-none"])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: the audit store ") and lines[0].endswith(
        "is locked by another process")
    assert "Traceback" not in result.output


def test_verbose_shows_the_traceback(runner: CliRunner, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SETRIGHT_STORE", raising=False)
    quiet = runner.invoke(cli, ["audit", "list"])
    loud = runner.invoke(cli, ["-v", "audit", "list"])
    assert "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr and "Error: no setright.yaml" in loud.stderr


def test_init_gitignores_the_store_and_the_sqlite_targets(runner: CliRunner, tmp_path,
                                                          monkeypatch) -> None:
    import shutil

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".gitignore").write_text("node_modules/")  # kept, no newline at its end
    assert runner.invoke(cli, ["init"]).exit_code == 0
    text = (tmp_path / ".gitignore").read_text()
    assert text.startswith("node_modules/\n# setright: SQLite target databases")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    ignored = ["data/user.db", "data/user.db-wal", "data/user.db-shm", ".setright/audit.db",
               ".setright/audit.db-wal", "node_modules/x"]
    kept = ["setright.yaml", "resolutions/2026-11-22-x.yaml", "changes/user-db/_0001__a.yaml"]
    check = subprocess.run(["git", "check-ignore", *ignored, *kept], cwd=tmp_path,
                           capture_output=True, text=True, check=False)
    assert check.stdout.split() == ignored
    # a second project in the same folder (after removing the config) adds nothing twice
    (tmp_path / "setright.yaml").unlink()
    result = runner.invoke(cli, ["init"])
    assert result.exit_code == 0 and ".gitignore" not in result.output.replace(
        ".setright/.gitignore", "")
    assert (tmp_path / ".gitignore").read_text() == text


def test_a_deleted_working_folder_is_one_error(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    script = ("import os, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]);"
              " sys.argv = ['setright', 'status']; from setright.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", script, str(gone)], capture_output=True,
                            text=True, timeout=60)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("Error: the current folder no longer exists (it was deleted or "
                             "moved)\n  change to the project's folder again\n")


@pytest.mark.parametrize("args", [
    ["apply", "--auto-approve"], ["audit", "fix", "-c", "x", "-r", "APPLIED", "--reason", "r",
                                  "--yes"],
    ["redrive", "ap-x", "--reason", "r", "--yes"], ["lock", "release", "x"],
    ["applies", "cancel", "ap-x", "--reason", "r", "--yes"],
    ["store", "migrate", "--to", "sqlite:///moved.db"]])
def test_a_mistyped_store_path_is_an_error_never_a_new_store(runner: CliRunner, tmp_path,
                                                              monkeypatch, args) -> None:
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(cli, ["init"]).exit_code == 0
    result = runner.invoke(cli, ["--store", "sqlite:///.setrigth/audit.db", *args])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "Error: no audit store at sqlite:///.setrigth/audit.db"
    assert not (tmp_path / ".setrigth").exists() and not (tmp_path / "moved.db").exists()


@pytest.mark.parametrize("args", [["issue", "get", "-c", "a\udcffb"],
                                  ["audit", "list", "-c", "\udcff"],
                                  ["lock", "release", "x\udce9"]])
def test_an_argument_that_is_not_utf8_is_one_error(runner: CliRunner, tmp_path, monkeypatch,
                                                   args: list[str]) -> None:
    """Bytes that are not UTF-8 reach Python as lone surrogates; before, binding one to a
    query was `internal error: UnicodeEncodeError`."""
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(cli, ["init"]).exit_code == 0
    before = (tmp_path / ".setright" / "audit.db").read_bytes()
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: the argument '") and result.stderr.endswith(
        "' is not valid UTF-8\n")
    assert (tmp_path / ".setright" / "audit.db").read_bytes() == before


@pytest.mark.parametrize("command", [["issue", "list"], ["store", "refold"], ["run"]])
def test_a_store_path_too_long_for_the_file_system_is_one_error(
        runner: CliRunner, tmp_path, monkeypatch, command: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(cli, ["init"]).exit_code == 0
    result = runner.invoke(cli, ["--store", f"sqlite:///{'a' * 300}.db", *command])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "internal error" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".gitignore", ".setright", "changes", "resolutions", "setright.yaml"]
