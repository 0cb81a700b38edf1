"""Ctrl-C says what is true: nothing was written, or what was is in the store."""

from __future__ import annotations

import signal
from pathlib import Path

from runhelp import Project, wait_for

#: about two seconds of SQLite counting
SLOW = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500000)"
        " INSERT INTO t SELECT count(*) FROM c")


def test_an_interrupted_run_says_its_work_is_recorded_not_that_nothing_was(
        tmp_path: Path) -> None:
    p = Project(tmp_path / "p")
    p.change("_0001__slow", transactional=False,
             apply=f"CREATE TABLE t (n INTEGER);\nINSERT INTO t VALUES (1);\n{SLOW};")
    proc = p.spawn("run")
    try:
        wait_for(lambda: p.store_rows("SELECT count(*) FROM setright_operations"
                                      " WHERE state = 'completed'") == [(2,)])
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    assert "nothing was written" not in err
    assert err.endswith(
        "Error: interrupted; what the command did before is recorded in the audit store\n"
        "  run 'setright status' and 'setright issue list' to see where it stopped\n"), err
    assert p.store_rows("SELECT state, error FROM setright_applies") == [
        ("failed", "runner interrupted: KeyboardInterrupt")]


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
