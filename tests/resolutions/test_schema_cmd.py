"""`setright schema NAME`: prints the shipped JSON Schema; a clear error for one not shipped."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from setright.cli import cli
from setright.cli.schema_cmd import SCHEMA_NAMES
from setright.schemas import SCHEMA_FILES, load_schema


@pytest.fixture(autouse=True)
def no_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No setright.yaml anywhere: editors need the schema before a project exists."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SETRIGHT_STORE", raising=False)


def shipped(name: str) -> bool:
    return resources.files("setright.schemas").joinpath(SCHEMA_FILES[name]).is_file()


def test_the_command_offers_every_schema_format() -> None:
    assert set(SCHEMA_NAMES) == set(SCHEMA_FILES)


def test_resolution_schema_is_printed(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["schema", "resolution"])
    assert result.exit_code == 0
    printed = json.loads(result.stdout)
    assert printed == load_schema("resolution")
    assert printed["$id"] == "setright:resolution.v1"


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_every_name_prints_its_schema_or_says_it_is_not_shipped(runner: CliRunner,
                                                                name: str) -> None:
    # change.v1.json and plan.v1.json are written by other work: either outcome is right,
    # but it must be the one that matches the package contents.
    result = runner.invoke(cli, ["schema", name])
    if shipped(name):
        assert result.exit_code == 0
        assert json.loads(result.stdout) == load_schema(name)
    else:
        assert result.exit_code == 1
        assert result.stderr.startswith(f"Error: the {name} schema is not shipped")


def test_a_schema_missing_from_the_package_is_a_clear_error(runner: CliRunner,
                                                            monkeypatch, snapshot) -> None:
    monkeypatch.setitem(SCHEMA_FILES, "plan", "plan.v0-missing.json")
    load_schema.cache_clear()
    try:
        result = runner.invoke(cli, ["schema", "plan"])
    finally:
        load_schema.cache_clear()
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == snapshot
    assert "Traceback" not in result.output


def test_an_unknown_name_is_a_usage_error_exit_1(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["schema", "changes"])
    assert result.exit_code == 1
    assert "'changes' is not one of" in result.stderr
