"""Config values the schema's types allow but the runner cannot use are refused at file:line.

Found by `make stress` (fuzz_config): `lock: {ttl: 99999999999999999999d}` made `run` an
internal OverflowError (a lock expiry past any timestamp), `run: {max_attempts: 9…9}` one
from SQLite's INTEGER, and `lock: {ttl: 0s}` let `run` start an apply whose lease was
born expired, so it wrote a failed apply and reported lease-lost; a folder name longer
than the file system allows made `validate` an internal OSError.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hostilehelp import base_project, fresh, invoke, replace_line, state
from test_hostile_inputs import CONFIG

CASES = [
    ("ttl-huge", 6, "lock: {ttl: 99999999999999999999d}", "at most 3650d"),
    ("ttl-zero", 6, "lock: {ttl: 0s}", "at least 1s"),
    ("ttl-250ms", 6, "lock: {ttl: 250ms}", "at least 1s"),
    ("max-age-huge", 7, "redrive: {max_age: 99999999999d}", "at most 3650d"),
    ("attempts-huge", 5, "run: {max_attempts: " + "9" * 400 + "}", "setright.yaml:5:"),
    # a folder name longer than the file system allows (seed 20261202, case 293): OSError
    ("resolutions-name-too-long", 8, "resolutions: " + "x" * 5000, "cannot be used"),
    ("changes-name-too-long", 4,
     '  app: {url: "sqlite:///data/app.db", changes: ' + "y" * 5000 + "}", "cannot be used"),
    # applied files are recorded by their name in the project: a folder outside has none
    ("resolutions-outside", 8, "resolutions: ../elsewhere", "must be inside the project"),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bounds") / "base"
    base_project(root)
    return root


@pytest.mark.parametrize("name,line,text,says", CASES, ids=[c[0] for c in CASES])
def test_an_unusable_value_is_refused_at_its_line(name: str, line: int, text: str, says: str,
                                                   template: Path, tmp_path: Path) -> None:
    project = fresh(template, tmp_path / "p")
    project.config_path.write_text(replace_line(CONFIG, line, text))
    before = state(project)
    for command in (("status",), ("run",)):
        outcome = invoke(project, *command)
        assert "internal error" not in outcome.output, outcome.output
        assert outcome.exit_code == 1, outcome.output
        assert outcome.stderr.startswith("Error:"), outcome.output
        assert f"setright.yaml:{line}:" in outcome.output and says in outcome.output, \
            outcome.output
    assert state(project) == before


def test_a_ttl_of_one_second_and_ten_years_are_fine(template: Path, tmp_path: Path) -> None:
    for ttl in ("1s", "3650d"):
        project = fresh(template, tmp_path / ttl)
        project.config_path.write_text(replace_line(CONFIG, 6, f"lock: {{ttl: {ttl}}}"))
        assert invoke(project, "status").exit_code == 0
