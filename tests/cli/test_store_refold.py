"""`setright store refold`: the command, its summary, and the error that points to it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from planhelp import backfill_project
from runhelp import Project
from setright.timeutil import FixedClock


def _delete_audit_rows(project: Project, *audit_ids: int) -> None:
    """A hand edit of the audit log, behind setright's back."""
    with sqlite3.connect(project.root / ".setright" / "audit.db") as conn:
        conn.executemany("DELETE FROM setright_audit_log WHERE id = ?",
                         [(i,) for i in audit_ids])


def _shown(project: Project, text: str) -> str:
    return text.replace(str(project.root), "<project>")


def test_a_deleted_current_row_is_one_error_that_names_refold(tmp_path: Path,
                                                              clock: FixedClock,
                                                              snapshot) -> None:
    project = backfill_project(tmp_path, clock)      # audit rows 3 STARTED, 4 FAILED: backfill
    _delete_audit_rows(project, 4)
    result = project.cli("issue", "get", "-c", "backfill", clock=clock)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == snapshot


def test_refold_lists_the_changes_whose_current_row_moved(tmp_path: Path, clock: FixedClock,
                                                          snapshot) -> None:
    project = backfill_project(tmp_path, clock)
    _delete_audit_rows(project, 4)
    result = project.cli("store", "refold", clock=clock)
    assert result.exit_code == 0, result.output
    assert _shown(project, result.stdout) == snapshot
    listed = project.cli("issue", "list", "--json", clock=clock)
    assert [(i["change_id"], i["state"]) for i in json.loads(listed.stdout)["issues"]] == [
        ("backfill", "STARTED")]


def test_refold_json_and_a_second_refold_that_moves_nothing(tmp_path: Path, clock: FixedClock,
                                                            snapshot) -> None:
    project = backfill_project(tmp_path, clock)
    _delete_audit_rows(project, 3, 4)
    first = json.loads(project.cli("store", "refold", "--json", clock=clock).stdout)
    assert first["moved"] == [{"change_id": "backfill",
                               "before": {"audit_id": 4, "state": "FAILED"}, "after": None}]
    assert (first["audit_rows"], first["changes"]) == (2, 1)
    again = project.cli("store", "refold", clock=clock)
    assert again.exit_code == 0, again.output
    assert _shown(project, again.stdout) == snapshot
    assert json.loads(project.cli("store", "refold", "--json", clock=clock).stdout)[
        "serial"] == first["serial"] + 2


def test_refold_of_a_missing_store_creates_nothing(tmp_path: Path, clock: FixedClock) -> None:
    project = Project(tmp_path)
    result = project.cli("store", "refold", clock=clock)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.output
    assert not (tmp_path / ".setright" / "audit.db").exists()


def test_the_summary_lists_at_most_fifty_moves(snapshot) -> None:
    from setright.render.refold import SHOWN_MOVES, refold_summary
    from setright.render.style import Style

    moved = [{"change_id": f"c{n:03}", "before": {"audit_id": n, "state": "FAILED"},
              "after": None} for n in range(SHOWN_MOVES + 3)]
    text = refold_summary({"store": "sqlite:///audit.db", "audit_rows": 0, "changes": 0,
                           "moved": moved, "serial": 9}, Style(ascii=True))
    assert text.count("| c0") == SHOWN_MOVES
    assert text.splitlines()[-2:] == snapshot
