"""stdout and stdin as the environment leaves them: a reader that goes away, a full
device, a closed descriptor, an encoding that cannot show every character, a path the
system refuses. Each is one `Error:` line (or, for `| head`, a quiet exit 1), never a
traceback, and a run that lost its reader still finishes and records the truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runhelp import ACTOR, Project

#: a statement of about two seconds: SQLite counts a recursive CTE
SLOW = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500000)"
        " INSERT INTO t SELECT count(*) FROM c")


def slow_project(root: Path) -> Project:
    p = Project(root)
    p.change("_0001__slow", transactional=False,
             apply=f"CREATE TABLE t (n INTEGER);\n{SLOW};")
    p.change("_0002__after", apply="INSERT INTO t VALUES (2);")
    return p


def setright(project: Project, *args: str, close_fd: int | None = None,
             stdout: object = subprocess.PIPE, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m setright ARGS` in the project; `close_fd` is closed in the child (`>&-`)."""
    full_env = {**os.environ, "SETRIGHT_ACTOR": ACTOR, "NO_COLOR": "1", **env}

    def close() -> None:
        if close_fd is not None:
            os.close(close_fd)

    return subprocess.run(
        [sys.executable, "-m", "setright", "--config", str(project.config_path), *args],
        cwd=project.root, env=full_env, stdin=subprocess.DEVNULL, stdout=stdout,
        stderr=subprocess.PIPE, text=True, timeout=120, preexec_fn=close, check=False)


@pytest.mark.parametrize("kept", [1, 2, 3])
def test_a_run_whose_reader_goes_away_finishes_and_records_the_truth(
        tmp_path: Path, monkeypatch, kept: int) -> None:
    """`run | head -N`: before, the progress thread printed a BrokenPipeError traceback and
    the next line failed the applied change (`runner interrupted: BrokenPipeError`), or with
    `head -1` the run stopped before any work. Now progress goes quiet, the run finishes."""
    p = slow_project(tmp_path / "p")
    monkeypatch.setenv("SETRIGHT_PROGRESS_INTERVAL", "0.1")
    proc = p.spawn("run")
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(kept)]
        proc.stdout.close()   # `head -N` exits: every later write meets EPIPE
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert lines[0] == "Target app:\n"
    assert (proc.returncode, err) == (1, "")   # the summary could not be written: exit 1
    assert p.store_rows("SELECT state, error FROM setright_applies") == [("completed", None)]
    assert p.store_rows("SELECT name FROM setright_locks") == []   # no lock left to expire
    assert p.query("SELECT n FROM t ORDER BY n") == [(2,), (1500000,)]


def test_a_full_device_is_one_error_line_and_the_run_still_completes(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    p = slow_project(tmp_path / "p")
    with open("/dev/full", "w") as full:
        done = setright(p, "run", stdout=full, SETRIGHT_PROGRESS_INTERVAL="0.1")
        assert (done.returncode, done.stderr) == (1, (
            "Error: cannot write to standard output: No space left on device\n"
            "  what the command did is recorded in the audit store;"
            " run 'setright status' to see it\n"))
        assert p.store_rows("SELECT state FROM setright_applies") == [("completed",)]
        status = setright(p, "status", stdout=full)
    assert (status.returncode, status.stderr) == (
        1, "Error: cannot write to standard output: No space left on device\n")


@pytest.mark.parametrize("args", [["status"], ["run"], ["--help"]])
def test_a_closed_stdout_is_one_error_line_and_nothing_is_touched(tmp_path: Path,
                                                                  args: list[str]) -> None:
    """`setright status >&-`: before, `internal error: AttributeError … 'isatty'`."""
    p = slow_project(tmp_path / "p")
    done = setright(p, *args, close_fd=1, stdout=subprocess.DEVNULL)
    assert (done.returncode, done.stderr) == (1, (
        "Error: standard output is closed; setright writes its results there\n"
        "  redirect it to /dev/null to discard them\n"))
    assert not (p.root / ".setright").exists() and not (p.root / "data").exists()


def test_a_question_with_stdin_closed_is_the_no_terminal_error(tmp_path: Path) -> None:
    """`audit fix … <&-`: before, `internal error: AttributeError … 'isatty'`."""
    p = Project(tmp_path / "p")
    p.change("_0001__boom", apply="INSERT INTO missing VALUES (1);")
    assert p.cli("run", "--max-attempts", "1").exit_code == 1
    before = p.store_rows("SELECT * FROM setright_events")
    done = setright(p, "audit", "fix", "-c", "boom", "-r", "ROLLED_BACK", "--reason", "gone",
                    close_fd=0)
    assert done.returncode == 1
    assert done.stderr == ("Error: no terminal to confirm on;"
                           " pass --yes to proceed without asking\n")
    assert p.store_rows("SELECT * FROM setright_events") == before


def test_what_the_output_encoding_cannot_show_is_escaped(tmp_path: Path) -> None:
    """`PYTHONIOENCODING=latin-1 setright issue list`: before, `internal error:
    UnicodeEncodeError` on the table's "…". Escaped as JSON's `\\u2026`, so JSON output keeps
    every character (the euro sign here, an astral one as a surrogate pair)."""
    p = Project(tmp_path / "p")
    p.change("_0001__price-€-😀", apply="INSERT INTO missing_" + "x" * 60 + " VALUES (1);")
    assert p.cli("run", "--max-attempts", "1").exit_code == 1
    listed = setright(p, "issue", "list", PYTHONIOENCODING="latin-1")
    assert (listed.returncode, listed.stderr) == (0, "")
    assert "price-\\u20ac-\\ud83d\\ude00" in listed.stdout and "\\u2026" in listed.stdout
    as_json = setright(p, "issue", "list", "--json", PYTHONIOENCODING="latin-1")
    assert (as_json.returncode, as_json.stderr) == (0, "")
    [issue] = json.loads(as_json.stdout)["issues"]
    assert issue["change_id"] == "price-€-😀"


@pytest.mark.parametrize("where", ["config", "validate"])
def test_a_path_too_long_for_the_system_is_one_error_line(tmp_path: Path, where: str) -> None:
    """A 300-character name: before, `internal error: OSError: [Errno 36]`."""
    p = Project(tmp_path / "p")
    long = "a" * 300
    if where == "config":
        from click.testing import CliRunner

        from setright.cli import cli

        result = CliRunner().invoke(cli, ["--config", str(p.root / long), "status"])
    else:
        result = p.cli("validate", str(p.root / long))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {p.root / long}: File name too long\n", result.stderr
