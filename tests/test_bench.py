"""`make bench` at a tiny scale, so the benchmark cannot rot; and its data generator.

Speed is never asserted: only that every row runs (or says why it is skipped),
that setright and each floor give the same answer (the runner checks that
itself), and that the generated audit log has the layout the rows rely on.
"""

from __future__ import annotations

import os
from contextlib import ExitStack, closing
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import build  # noqa: E402
import servers  # noqa: E402
import run as bench_run  # noqa: E402


def test_the_generated_log_has_ten_rows_per_change_and_the_first_changes_fail(
        tmp_path: Path) -> None:
    db = build.build_issue_store(tmp_path, rows=200, issues=3)
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT change_id, state, created_at, tx_strategy FROM"
                            " setright_audit_log ORDER BY id").fetchall()
    finally:
        conn.close()
    assert len(rows) == 200
    assert [r[0] for r in rows[:11]] == ["change-000000"] * 10 + ["change-000001"]
    assert [r[1] for r in rows[:10]] == ["STARTED", "FAILED"] * 4 + ["STARTED", "FAILED"]
    assert rows[19][1] == "FAILED" and rows[29][1] == "FAILED" and rows[39][1] == "APPLIED"
    assert rows[-1][0] == "change-000019"
    assert [r[2] for r in rows[:2]] == [build.T0, build.T0 + 1]
    assert {r[3] for r in rows} == {"NON_TX"}


def test_the_generated_log_folds_to_the_expected_issues(tmp_path: Path) -> None:
    build.write_config(tmp_path)
    build.build_issue_store(tmp_path, rows=300, issues=4)
    build.fold(tmp_path)
    conn = sqlite3.connect(tmp_path / ".setright" / "audit.db")
    try:
        states = dict(conn.execute("SELECT change_id, state FROM setright_change_state"))
    finally:
        conn.close()
    assert len(states) == 30
    assert sorted(c for c, s in states.items() if s == "FAILED") == build.issue_change_ids(4)
    assert {s for c, s in states.items() if c not in build.issue_change_ids(4)} == {"APPLIED"}


@pytest.mark.parametrize("dialect", servers.DIALECTS)
def test_a_server_store_folds_to_the_same_issues(tmp_path: Path, dialect: str) -> None:
    """The `@postgresql` / `@mysql` rows measure the data the SQLite rows do: each change's
    rows keep their own milliseconds, so the fold picks the last row, not a priority tie."""
    from serverhelp import unreachable
    from setright.db import parse_url
    from setright.store import Store

    with ExitStack() as stack:
        try:
            url = stack.enter_context(servers.fresh_database(dialect))
        except servers.Unavailable as exc:
            unreachable(str(exc))   # skipped off CI, a failure under CI=true
        servers.fill_server_store(url, 300, 4, dialect)
        build.write_config(tmp_path, store=url)
        build.fold(tmp_path)
        store = stack.enter_context(closing(Store.open_reader(parse_url(url, tmp_path))))
        with store.read() as conn:
            states = dict(conn.execute("SELECT change_id, state FROM setright_change_state"))
    assert len(states) == 30
    assert sorted(c for c, s in states.items() if s == "FAILED") == build.issue_change_ids(4)


def test_make_bench_runs_every_row_at_a_tiny_scale(tmp_path: Path) -> None:
    env = {**os.environ, "BENCH_SCALE": "0.0005", "BENCH_REPEAT": "1", "BENCH_WARMUP": "0"}
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{bench_run.BEGIN}\nold table\n{bench_run.END}\ntail\n")
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--readme", str(readme)],
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    written = readme.read_text()
    assert written.startswith(f"# x\n{bench_run.BEGIN}\n\n`make bench` (python ")
    assert "old table" not in written and written.endswith(f"{bench_run.END}\ntail\n")
    assert [ln for ln in written.splitlines() if ln.startswith("| ")] == [
        ln for ln in proc.stdout.splitlines() if ln.startswith("| ")]
    table = [ln for ln in proc.stdout.splitlines() if ln.startswith("| ")]
    measured = [ln for ln in table[1:] if not ln.startswith(("| peak RSS", "| of which "))]
    assert len(measured) == len(bench_run.ROWS)
    for line in measured:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[-1] in ("yes", "no", "—") or cells[-1].startswith("skipped: "), line
        assert (cells[-1] == "—") == cells[-2].startswith("— "), line  # a row that explains
        if not cells[-1].startswith("skipped: "):
            assert cells[1].endswith(("ms", " s")) and cells[2].endswith(("ms", " s")), line
    assert any(ln.startswith("| peak RSS of the row above | ") for ln in table)
    parts = [ln for ln in table if ln.startswith("| of which ")]
    assert len(parts) == sum(row.key.startswith("issue-list@") or row.key in ("issue-list", "run")
                             for row in bench_run.ROWS)
    assert all(ln.split("|")[2].strip().endswith(("ms", " s")) for ln in parts), parts
