"""The benchmarks' builders (`benchmarks/build.py`) at small sizes: correctness only.

Speed is measured by the benchmark, never asserted here.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import build as bench  # noqa: E402

from setright.render.plan import plan_markdown  # noqa: E402

PR_COMMENT_LIMIT = 65_000


def test_every_entry_of_many_files_is_a_change(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    bench.write_config(root)
    bench.build_issue_store(root, rows=4_000, issues=200)   # 400 changes, 200 of them issues
    issues = bench.issue_change_ids(200)
    paths = bench.write_resolution_files(root, issues, files=40)
    assert len(paths) == 40
    plan = bench.plan_in(root)
    assert (plan.errors, plan.warnings, plan.errored) == ([], [], False)
    assert len(plan.resolution_files) == 40
    assert [a.subject for a in plan.actions] == issues
    assert {(a.outcome, a.before, a.after) for a in plan.actions} == {
        ("change", "FAILED", "MANUAL_MARKED_AS_APPLIED")}
    assert {a.file for a in plan.actions} == {f"resolutions/{p.name}" for p in paths}
    assert all(a.guard.fingerprint.startswith("dh1:") for a in plan.actions)
    assert plan.summary == {"resolve": 200, "redrive": 0, "satisfied": 0, "conflicts": 0}
    assert len(plan_markdown(plan)) < PR_COMMENT_LIMIT


def test_markdown_of_10000_actions_fits_a_pr_comment_and_counts_what_it_left_out() -> None:
    plan = bench.synthetic_plan(10_000, conflicts=3)
    md = plan_markdown(plan)
    assert len(md) < PR_COMMENT_LIMIT
    lines = md.splitlines()
    assert lines[0] == ("### setright plan: 9997 to resolve, 0 to redrive, 0 satisfied, "
                        "3 conflicts")
    conflicts = lines.index("#### Conflicts")
    assert [ln.split("`")[1] for ln in lines[conflicts + 2:conflicts + 5]] == [
        f'resolution.change["change-{n:06d}"]' for n in range(3)]
    rows = [ln for ln in lines if ln.startswith(("| ~ |", "| ✗ |"))]
    [rows_left] = re.findall(r"^_… (\d+) more rows not shown", md, re.MULTILINE)
    assert rows and len(rows) + int(rows_left) == 10_000
    assert all(ln.endswith(" |") for ln in rows)    # whole rows, never cut mid-line
    details = [ln for ln in lines if ln.startswith("**`resolution.change[")]
    [details_left] = re.findall(r"^_… details of (\d+) more actions not shown", md, re.MULTILINE)
    assert len(details) + int(details_left) == 10_000
    assert lines[-1] == "Plan: 9997 to resolve, 0 to redrive, 0 satisfied, 3 conflicts."


def test_redrive_builders_accept_the_exact_match_and_explain_one_edited_statement(
        tmp_path: Path) -> None:
    root = tmp_path / "redrive"
    ops, fail_at = 30, 27
    apply_id = bench.build_failed_apply(root, ops, fail_at)
    redrive = bench.write_redrive_file(root, apply_id)

    [accepted] = bench.plan_in(root, [redrive]).actions
    assert (accepted.outcome, accepted.before, accepted.after) == (
        "change", "failed", "failed_retryable")
    assert accepted.remaining_work == [
        {"position": 1, "change_id": bench.REDRIVE_CHANGE, "task_state": "failed",
         "operations_total": ops, "from_seq": fail_at, "to_seq": ops, "operations_to_run": 4}]

    new = bench.edit_statement(root, ops, fail_at, 28)
    [refused] = bench.plan_in(root, [redrive]).actions
    assert refused.outcome == "conflict"
    assert refused.messages == [
        "the fresh plan does not match the remaining work (drift):",
        f"  operation 28 of change {bench.REDRIVE_CHANGE} changed: "
        f"{bench.insert_statement(28)!r} → {new!r}",
    ]


def test_markdown_of_thousands_of_bad_files_still_fits_a_pr_comment() -> None:
    """Blockers, warnings and errors above the table are bounded too (3,000 files)."""
    plan = bench.synthetic_plan(10, conflicts=0)
    names = [f"resolutions/file-{n:05d}-with-a-long-name.yaml" for n in range(3_000)]
    plan.unreadable_files = names
    plan.errors = [f"{name}:1:1: not YAML" for name in names]
    plan.warnings = [f"{name}: deleted after it was applied" for name in names]
    md = plan_markdown(plan)
    assert len(md) < PR_COMMENT_LIMIT
    assert re.search(r"^> \*\*Error:\*\* _… \d+ more lines not shown", md, re.MULTILINE)
    assert re.search(r"^> \*\*Warning:\*\* _… \d+ more lines not shown", md, re.MULTILINE)
    blocker = next(ln for ln in md.splitlines() if "files could not be read" in ln)
    assert len(blocker) < 1_200 and blocker.endswith("…")
