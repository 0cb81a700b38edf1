"""A long statement is never silent: a live line on a terminal, "still running" lines
otherwise; and `status` calls the change in flight "running", not "pending"."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import click
from click.testing import CliRunner

from runhelp import Project, wait_for
from setright.cli.printable import printable_output
from setright.cli.progress import ProgressPrinter
from setright.render.run import elapsed, live_line
from setright.render.style import Style

#: a statement of about two seconds: SQLite counts a recursive CTE
SLOW = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500000)"
        " INSERT INTO t SELECT count(*) FROM c")


def started(project: Project, change_id: str) -> bool:
    return project.store_rows("SELECT state FROM setright_audit_log WHERE change_id = ?"
                              " ORDER BY id DESC LIMIT 1", change_id) == [("STARTED",)]


def test_a_slow_statement_reports_itself_and_status_says_running(tmp_path: Path,
                                                                 monkeypatch) -> None:
    p = Project(tmp_path / "p", targets=("app", "other"))
    p.change("_0001__create-t", apply="CREATE TABLE t (n INTEGER);")
    p.change("_0002__backfill-x", transactional=False,
             apply=f"INSERT INTO t VALUES (0);\n{SLOW};\nINSERT INTO t VALUES (1);")
    p.change("_0003__after", apply="INSERT INTO t VALUES (2);")
    monkeypatch.setenv("SETRIGHT_PROGRESS_INTERVAL", "0.1")
    proc = p.spawn("run", "-t", "app")
    try:
        wait_for(lambda: started(p, "backfill-x"))
        status = p.cli("status", "-t", "app")
        assert status.exit_code == 0, status.output
        lines = status.output.splitlines()
        assert any(re.fullmatch(r"  running: backfill-x \(in flight in apply ap-\w+\)", ln)
                   for ln in lines), status.output
        assert "  pending: after" in lines  # the running change is not pending
        assert "other" not in status.output  # -t: only that target
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    still = [ln for ln in out.splitlines() if "still running" in ln]
    assert still, out
    assert all(re.fullmatch(r"  still running: backfill-x operation 2 of 3 \(\d+ s\)", ln)
               for ln in still), still
    assert out.index("still running") > out.index("✓ [1] create-t")
    assert out.index("still running") < out.index("✓ [2] backfill-x")
    assert "\r" not in out and "\033" not in out  # plain lines, not a live line


def on_a_terminal(project: Project, *args: str, term: str = "xterm",
                  **env: str) -> tuple[int, str]:
    """`setright ARGS` with a pseudo-terminal for its output (colour on unless `env` says
    otherwise): its exit code and what it drew."""
    leader, follower = pty.openpty()
    env = {**{k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")},
           "TERM": term, **env}
    proc = subprocess.Popen([sys.executable, "-m", "setright", *args], cwd=project.root,
                            env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    drawn = b""
    try:
        while chunk := _read(leader):
            drawn += chunk
    finally:
        os.close(leader)
    return proc.wait(timeout=60), drawn.decode()


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:   # EIO: the process closed its terminal
        return b""


def test_on_a_terminal_the_live_line_and_colours_are_real_codes(tmp_path: Path) -> None:
    """The codes setright writes itself reach a terminal as codes; a value's stay escaped."""
    p = Project(tmp_path / "p")
    p.change("_0001__create-t", apply="CREATE TABLE t (n INTEGER);")
    p.change("_0002__fill", apply=f"{SLOW};")
    p.change("_0003__odd", apply='INSERT INTO "a\x1b[8mb" VALUES (1);')   # no such table
    code, drawn = on_a_terminal(p, "run", "--max-attempts", "1")
    assert code == 1, drawn
    assert "\r\x1b[K  app  fill  operation 1 of 1  running 0:00" in drawn, drawn
    assert "\x1b[32m✓\x1b[0m [2] fill: APPLIED" in drawn
    assert "\\u000d" not in drawn and "\\u001b[K" not in drawn
    # the database's error names the table: its code is shown, never obeyed
    assert "no such table: a\\u001b[8mb" in drawn and "\x1b[8m" not in drawn


def test_a_dumb_terminal_or_no_color_gets_plain_lines(tmp_path: Path) -> None:
    """TERM=dumb prints codes as text: no colour and no live line. NO_COLOR counts only when
    it is not empty (no-color.org)."""
    drawn = {}
    for case, term, env in (("dumb", "dumb", {}), ("no-color", "xterm", {"NO_COLOR": "1"}),
                            ("empty-no-color", "xterm", {"NO_COLOR": ""})):
        p = Project(tmp_path / case)
        p.change("_0001__create-t", apply="CREATE TABLE t (n INTEGER);")
        code, drawn[case] = on_a_terminal(p, "run", term=term, **env)
        assert code == 0 and "✓" in drawn[case] and "APPLIED" in drawn[case], drawn[case]
    assert "\x1b" not in drawn["dumb"], drawn["dumb"]
    assert "\r" not in drawn["dumb"].replace("\r\n", ""), drawn["dumb"]   # no live line
    assert "\x1b[32m" not in drawn["no-color"] and "\x1b[0m" not in drawn["no-color"]
    assert "\x1b[32m✓\x1b[0m [1] create-t: APPLIED" in drawn["empty-no-color"]


def test_fast_runs_print_no_progress_lines(tmp_path: Path) -> None:
    p = Project(tmp_path / "p")
    p.change("_0001__quick", apply="CREATE TABLE t (n INTEGER);")
    result = p.cli("run")
    assert result.exit_code == 0 and "still running" not in result.output


def test_a_bad_interval_is_one_error(tmp_path: Path, monkeypatch) -> None:
    p = Project(tmp_path / "p")
    p.change("_0001__quick", apply="CREATE TABLE t (n INTEGER);")
    monkeypatch.setenv("SETRIGHT_PROGRESS_INTERVAL", "soon")
    result = p.cli("run")
    assert result.exit_code == 1
    assert result.stderr == ("Error: SETRIGHT_PROGRESS_INTERVAL='soon': expected a positive "
                             "number of seconds\n")
    assert not (p.root / "data" / "app.db").exists()


def test_the_live_line_on_a_terminal_redraws_with_the_elapsed_time() -> None:
    now = [100.0]
    out: list[str] = []

    @click.command()
    def fake() -> None:
        with printable_output():  # as setright prints: its codes unsealed
            printer = ProgressPrinter(Style(), terminal=True, clock=lambda: now[0])
            printer.target_started("user-db")
            printer.apply_started("ap-1", 1, 3, 4, 10, False)
            printer.operation_started("backfill-x", 2, 5)
            now[0] += 12.4
            time.sleep(1.5)  # the ticker redraws about once a second
            printer.operations_committed("backfill-x", 1)
            printer.task_finished(1, "backfill-x", "completed", "APPLIED", None)
            printer.close()

    out.append(CliRunner().invoke(fake).output)
    text = out[0]
    assert "\r\033[K  user-db  backfill-x  operation 2 of 5  running 0:00  [4/10 operations]" \
        in text
    assert "\r\033[K  user-db  backfill-x  operation 2 of 5  running 0:12  [4/10 operations]" \
        in text
    # the task line replaces the live line, which is gone once the operation committed
    assert text.endswith("\r\033[K  ✓ [1] backfill-x: APPLIED\n")


def test_elapsed_reads_like_a_clock() -> None:
    assert [elapsed(s) for s in (0, 7.9, 65, 3723)] == ["0:00", "0:07", "1:05", "1:02:03"]
    assert live_line("user-db", "backfill-x", 2, 5, 12, 3, 10) == (
        "  user-db  backfill-x  operation 2 of 5  running 0:12  [3/10 operations]")


def test_status_of_an_unknown_target_is_one_error(tmp_path: Path) -> None:
    p = Project(tmp_path / "p", targets=("app",))
    p.change("_0001__quick", apply="CREATE TABLE t (n INTEGER);")
    assert p.cli("run").exit_code == 0
    result = p.cli("status", "-t", "nope")
    assert result.exit_code == 1
    assert result.stderr == ("Error: unknown target 'nope'\n"
                             "  targets in setright.yaml: app\n")


def test_the_live_line_never_wraps() -> None:
    @click.command()
    def fake() -> None:
        with printable_output():  # as setright prints: its codes unsealed
            printer = ProgressPrinter(Style(width=30), terminal=True, clock=lambda: 0.0)
            printer.target_started("user-db")
            printer.apply_started("ap-1", 1, 3, 0, 10, False)
            printer.operation_started("a-change-with-a-long-name", 1, 5)
            printer.close()

    text = CliRunner().invoke(fake).output
    drawn = [part for part in text.split("\r\033[K") if "a-change" in part]
    assert drawn == ["  user-db  a-change-with-a-lo"]  # 29 columns: the cursor keeps the 30th
