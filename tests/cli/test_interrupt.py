"""Ctrl-C says what is true: nothing was written, or what was is in the store."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from runhelp import INTERRUPTED, Project, ctrl_c

#: about two seconds of SQLite counting
SLOW = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500000)"
        " INSERT INTO t SELECT count(*) FROM c")
#: many minutes of it
ENDLESS = SLOW.replace("1500000", "2000000000")


def _two_operations_done(p: Project) -> Callable[[], bool]:
    return lambda: p.store_rows("SELECT count(*) FROM setright_operations"
                                " WHERE state = 'completed'") == [(2,)]


def test_an_interrupted_run_says_its_work_is_recorded_not_that_nothing_was(
        tmp_path: Path) -> None:
    p = Project(tmp_path / "p")
    p.change("_0001__slow", transactional=False,
             apply=f"CREATE TABLE t (n INTEGER);\nINSERT INTO t VALUES (1);\n{SLOW};")
    code, err = ctrl_c(p.spawn("run"), _two_operations_done(p), timeout=60)
    assert code == 1
    assert "nothing was written" not in err
    assert err.endswith(INTERRUPTED), err
    assert p.store_rows("SELECT state, error FROM setright_applies") == [
        ("failed", "runner interrupted: KeyboardInterrupt")]


def test_ctrl_c_stops_a_long_statement_in_sqlite_rather_than_waiting_for_it(
        tmp_path: Path) -> None:
    """Python cannot run its handler while SQLite counts: the runner asks SQLite to stop."""
    p = Project(tmp_path / "p")
    p.change("_0001__endless", transactional=False,
             apply=f"CREATE TABLE t (n INTEGER);\nINSERT INTO t VALUES (1);\n{ENDLESS};")
    two_done = _two_operations_done(p)

    def counting() -> bool:
        if not two_done():
            return False
        time.sleep(0.5)  # past the store's record of the second operation, into the third
        return True

    code, err = ctrl_c(p.spawn("run"), counting)
    assert (code, err.endswith(INTERRUPTED)) == (1, True), err
    assert p.store_rows("SELECT state, error FROM setright_applies") == [
        ("failed", "runner interrupted: KeyboardInterrupt")]
    assert p.store_rows("SELECT seq, state FROM setright_operations ORDER BY seq") == [
        (1, "completed"), (2, "completed"), (3, "pending")]
    assert p.query("SELECT n FROM t") == [(1,)]           # the count never committed
    assert p.store_rows("SELECT count(*) FROM setright_locks") == [(0,)]


def test_the_end_of_input_at_a_question_wrote_nothing_and_says_so(tmp_path: Path,
                                                                  monkeypatch) -> None:
    p = Project(tmp_path / "p")
    p.change("_0001__boom", apply="INSERT INTO missing VALUES (1);")
    assert p.cli("run", "--max-attempts", "1").exit_code == 1
    [(apply_id,)] = p.store_rows("SELECT id FROM setright_applies")
    before = p.store_rows("SELECT * FROM setright_events")
    monkeypatch.setattr("setright.cli.confirm.stdin_is_terminal", lambda: True)
    result = p.cli("redrive", apply_id, "--reason", "created it", input="")
    assert result.exit_code == 1
    assert result.stderr.endswith("Error: aborted; nothing was written.\n"), result.stderr
    assert p.store_rows("SELECT * FROM setright_events") == before


#: `python -c` text: setright's executable, with a Ctrl-C arriving while click is imported
_INTERRUPTED_IMPORT = """
import sys

class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "click":
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, Interrupt())
sys.argv = ["setright", "--help"]
from setright.entry import main
main()
"""


def test_a_ctrl_c_while_setright_starts_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _INTERRUPTED_IMPORT], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (
        1, "", "Error: aborted; nothing was written.\n")


def test_a_second_ctrl_c_after_a_write_still_says_where_to_look(monkeypatch, capsys) -> None:
    """An interrupt that escapes click (a second Ctrl-C while a transaction rolls back)."""
    import types

    import pytest

    import setright.cli
    from setright import entry

    def interrupted_again() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(setright.cli, "main", interrupted_again)
    monkeypatch.setattr(setright.cli, "_APP", types.SimpleNamespace(wrote=True))
    with pytest.raises(SystemExit) as exited:
        entry.main()
    assert exited.value.code == 1
    assert capsys.readouterr().err == INTERRUPTED


def test_an_error_raised_while_handling_a_ctrl_c_is_reported_as_the_interrupt(
        tmp_path: Path, monkeypatch) -> None:
    """A driver whose cleanup fails after the interrupt raises its own error (with the
    interrupt as its context): before, that was `internal error: …`."""
    p = Project(tmp_path / "p")

    def broken_cleanup(*args: object, **kwargs: object) -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("cannot exit pipeline mode while busy") from None

    monkeypatch.setattr("setright.runner.changes.load_all", broken_cleanup)
    result = p.cli("run")
    assert result.exit_code == 1
    assert result.stderr == "Error: aborted; nothing was written.\n"
