"""Which pull request CI says an apply came from (`SETRIGHT_PR`, else GitHub's environment)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runhelp import Project
from setright.errors import SetrightError
from setright.resolutions.ci import pull_request_from_env

GITHUB = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/db"}


@pytest.mark.parametrize("environ, expected", [
    ({}, None),
    ({"SETRIGHT_PR": "123"}, "#123"),
    ({"SETRIGHT_PR": " #123 "}, "#123"),
    ({"SETRIGHT_PR": "123", **GITHUB}, "https://github.com/acme/db/pull/123"),
    ({"SETRIGHT_PR": "https://gitlab.example/acme/db/-/merge_requests/9"},
     "https://gitlab.example/acme/db/-/merge_requests/9"),
    ({"SETRIGHT_PR": "5", "GITHUB_REF": "refs/pull/123/merge"}, "#5"),   # SETRIGHT_PR wins
    ({"SETRIGHT_PR": "", "GITHUB_REF": "refs/pull/123/merge"}, "#123"),
    ({"GITHUB_REF": "refs/pull/123/merge", **GITHUB}, "https://github.com/acme/db/pull/123"),
    ({"GITHUB_REF": "refs/pull/8/head"}, "#8"),
    ({"GITHUB_REF": "refs/heads/main", **GITHUB}, None),                 # a push: no PR
    ({"GITHUB_REF": "refs/pull/123/merge", "GITHUB_SERVER_URL": "https://github.com/",
      "GITHUB_REPOSITORY": ""}, "#123"),                                 # no repository: no URL
    ({"GITHUB_REF": "refs/pull/1/merge", "GITHUB_SERVER_URL": "not a url",
      "GITHUB_REPOSITORY": "acme/db"}, "#1"),
], ids=["nothing", "number", "hash-number", "number-with-github", "url", "setright-pr-wins",
        "empty-setright-pr", "github-ref", "github-ref-head", "push", "no-repository",
        "bad-server"])
def test_pull_request_from_env(environ, expected) -> None:
    assert pull_request_from_env(environ) == expected


def _event(tmp_path: Path, payload: object) -> str:
    path = tmp_path / "event.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return str(path)


def test_the_event_payload_names_the_pull_request(tmp_path: Path) -> None:
    """pull_request_target runs on the base branch: only the payload has the number."""
    env = {"GITHUB_REF": "refs/heads/main", **GITHUB,
           "GITHUB_EVENT_PATH": _event(tmp_path, {"pull_request": {"number": 42}})}
    assert pull_request_from_env(env) == "https://github.com/acme/db/pull/42"


@pytest.mark.parametrize("payload", [
    "{not json", [], {"pull_request": None}, {"pull_request": {"number": "42"}},
    {"pull_request": {"number": True}}, {"pull_request": {"number": 0}}, {"push": {}}])
def test_an_event_payload_without_a_usable_number_names_none(tmp_path: Path, payload) -> None:
    assert pull_request_from_env({"GITHUB_EVENT_PATH": _event(tmp_path, payload)}) is None


def test_a_missing_event_file_names_none(tmp_path: Path) -> None:
    assert pull_request_from_env({"GITHUB_EVENT_PATH": str(tmp_path / "gone.json")}) is None


@pytest.mark.parametrize("value", ["next week", "0", "12a", "ftp://x/1", "-3"])
def test_an_unusable_setright_pr_is_an_error(value) -> None:
    with pytest.raises(SetrightError) as caught:
        pull_request_from_env({"SETRIGHT_PR": value})
    assert caught.value.message == f"SETRIGHT_PR={value!r} is not a pull request number or URL"


@pytest.mark.parametrize("actor", ["evil\x1b[31m", "a\u202eb@example.com", "two\nlines", "   "])
def test_an_actor_a_terminal_would_act_on_is_refused_before_any_write(
        tmp_path: Path, actor: str) -> None:
    """Before: recorded raw in the audit log's metadata and the events (helper-44)."""
    from click.testing import CliRunner

    from setright.cli import cli

    p = Project(tmp_path / "p")
    p.change("_0001__a", apply="CREATE TABLE a (id INTEGER)")
    result = CliRunner().invoke(cli, ["--config", str(p.config_path), "run"],
                                env={"SETRIGHT_ACTOR": actor})
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: SETRIGHT_ACTOR is not one line of plain text: '")
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    assert not (p.root / "data" / "app.db").exists() or p.db().execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'a'").fetchone() == (0,)
