"""Plans over resolution files that were already applied: edited, renamed, deleted, mixed."""

from __future__ import annotations

from pathlib import Path

import pytest

from planhelp import backfill_project, plan, resolution_file, two_target_project
from runhelp import Project
from setright.timeutil import FixedClock



@pytest.fixture
def applied(tmp_path: Path, clock: FixedClock) -> Project:
    """backfill marked APPLIED through resolutions/r.yaml, applied and in the ledger."""
    p = backfill_project(tmp_path / "proj", clock)
    resolution_file(p, "r.yaml", reason="finished by hand",
                    resolutions=[{"change": "backfill", "resolution": "APPLIED"}])
    assert p.cli("apply", "--auto-approve", clock=clock).exit_code == 0
    return p


def test_applied_entries_are_history(applied, clock) -> None:
    code, out, _ = plan(applied, clock, "--detailed-exitcode")
    assert (code, out.splitlines()[0]) == (
        0, "No changes. Every resolution-file entry is already in the ledger.")


def test_an_applied_file_edited_afterwards_is_an_error(applied, clock, snapshot) -> None:
    resolution_file(applied, "r.yaml", reason="finished by hand, and checked twice",
                    resolutions=[{"change": "backfill", "resolution": "APPLIED"}])
    code, out, _ = plan(applied, clock)
    assert code == 1
    assert "resolution file changed after it was applied" in out
    assert out == snapshot


def test_a_renamed_applied_file_is_not_new(applied, clock) -> None:
    folder = applied.root / "resolutions"
    (folder / "r.yaml").rename(folder / "2026-11-22-backfill.yaml")
    code, out, err = plan(applied, clock, "--detailed-exitcode")
    assert code == 0
    assert "No changes" in out


def test_a_deleted_applied_file_is_a_warning(applied, clock) -> None:
    (applied.root / "resolutions" / "r.yaml").unlink()
    code, out, _ = plan(applied, clock, "--detailed-exitcode")
    assert code == 0
    assert out.splitlines()[0].startswith("Warning: resolutions/r.yaml")


def test_mixed_files_satisfied_resolve_and_redrive(tmp_path: Path, clock, snapshot) -> None:
    """One project, three files: a satisfied mark, a mark on one target, a redrive on another."""
    p, jobs_apply = two_target_project(tmp_path / "mixed", clock)
    resolution_file(p, "a-satisfied.yaml", resolutions=[{"change": "seed", "resolution": "APPLIED"}])
    resolution_file(p, "b-mark.yaml", ticket="OPS-2",
                    resolutions=[{"change": "loose", "resolution": "ROLLED_BACK",
                                  "expect": "FAILED", "target": "app"}])
    resolution_file(p, "c-redrive.yaml", redrives=[{"apply": jobs_apply}])
    code, out, _ = plan(p, clock, "--detailed-exitcode")
    assert code == 2
    assert out == snapshot
    assert out.splitlines()[-1] == "Plan: 1 to resolve, 1 to redrive, 1 satisfied, 0 conflicts."
