"""`audit fix` when the change moves between its preview and its write transaction: what it
says comes from the facts that transaction read, never from the preview."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from planhelp import mark
from runhelp import Project
from setright.timeutil import FixedClock
from storehelp import T0


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path / "p")
    p.change("_0001__seed", apply="CREATE TABLE t (id INTEGER PRIMARY KEY);")
    p.change("_0002__backfill", transactional=False,
             apply="INSERT INTO t VALUES (1);\nINSERT INTO nope VALUES (1);")
    store = p.open_store(FixedClock(T0))
    [outcome] = p.run(store)
    assert outcome.apply_state == "failed"
    store.close()
    return p


def moving_confirm(project: Project, resolution: str) -> Any:
    """A confirmation during which someone else marks the change."""
    def confirm(*_args: Any, **_kwargs: Any) -> None:
        mark(project, FixedClock(T0 + 1000), "backfill", resolution)
    return confirm


def fix(project: Project) -> Any:
    return project.cli("audit", "fix", "-c", "backfill", "-r", "ROLLED_BACK", "--reason", "r",
                       "--yes", clock=FixedClock(T0 + 2000))


def test_marked_the_same_way_meanwhile_is_nothing_to_do(project: Project,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("setright.cli.confirm.confirm", moving_confirm(project, "ROLLED_BACK"))
    result = fix(project)
    assert result.exit_code == 0, result.output
    assert "FAILED → MANUAL_MARKED_AS_ROLLED_BACK" in result.stdout  # the preview
    assert result.stdout.endswith(
        "Nothing to do: change 'backfill' is already MANUAL_MARKED_AS_ROLLED_BACK.\n")


def test_marked_otherwise_meanwhile_is_refused_with_the_state_it_has(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("setright.cli.confirm.confirm", moving_confirm(project, "APPLIED"))
    result = fix(project)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: change 'backfill' is not an issue (MANUAL_MARKED_AS_APPLIED: done); to mark it "
        "anyway, pass --expect MANUAL_MARKED_AS_APPLIED",
        "  nothing was written",
    ]
    assert "Saved plan is stale" not in result.output
