"""Shell completion through click's own machinery (`_SETRIGHT_COMPLETE=bash_complete`),
on a real store: change ids, apply ids and targets; never an error, never a new store."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from runhelp import Project
from serverhelp import server_store_url  # noqa: F401 - fixture
from setright.cli import cli
from setright.timeutil import FixedClock
from storehelp import T0


def complete(line: str, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What bash would offer after `line` (a trailing space completes a new word)."""
    monkeypatch.chdir(cwd)
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    result = CliRunner().invoke(cli, [], prog_name="setright", env={
        "_SETRIGHT_COMPLETE": "bash_complete", "COMP_WORDS": line, "COMP_CWORD": str(cword)})
    assert result.exit_code == 0, result.output
    assert "Error" not in result.output and "Traceback" not in result.output
    return [row.split(",", 1)[1] for row in result.output.splitlines() if row]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, list[str]]:
    p = Project(tmp_path_factory.mktemp("complete") / "p", targets=("app", "audit-db"))
    p.change("_0001__create-t", apply="CREATE TABLE t (id INTEGER);")
    p.change("_0002__fill-t", transactional=False, apply="INSERT INTO missing VALUES (1);")
    p.change("_0001__other-one", target="audit-db", apply="CREATE TABLE o (id INTEGER);")
    store = p.open_store(FixedClock(T0))
    outcomes = p.run(store)
    store.close()
    return p, [o.apply_id for o in outcomes if o.apply_id]


def test_change_ids(project, monkeypatch) -> None:
    p, _ = project
    everything = ["create-t", "fill-t", "other-one"]
    assert complete("setright issue get -c ", p.root, monkeypatch) == everything
    assert complete("setright issue get --change-id f", p.root, monkeypatch) == ["fill-t"]
    assert complete("setright audit fix -c ", p.root, monkeypatch) == everything
    assert complete("setright audit list -c o", p.root, monkeypatch) == ["other-one"]


def test_a_server_store_completes_the_same(server_store_url: str, tmp_path: Path,
                                           monkeypatch) -> None:
    """PostgreSQL and MariaDB: the same queries, through the read-only server connection."""
    p = Project(tmp_path / "p", store_url=server_store_url)
    p.change("_0001__create-t", apply="CREATE TABLE t (id INTEGER);")
    p.change("_0002__fill-t", transactional=False, apply="INSERT INTO missing VALUES (1);")
    store = p.open_store(FixedClock(T0))
    [outcome] = p.run(store)
    store.close()
    assert complete("setright issue get -c ", p.root, monkeypatch) == ["create-t", "fill-t"]
    assert complete("setright audit fix -c f", p.root, monkeypatch) == ["fill-t"]
    assert complete("setright redrive ", p.root, monkeypatch) == [outcome.apply_id]
    assert complete("setright redrive x", p.root, monkeypatch) == []


def test_an_unreachable_server_completes_nothing(tmp_path: Path, monkeypatch) -> None:
    p = Project(tmp_path / "p", store_url="postgresql://nobody@127.0.0.1:1/none")
    assert complete("setright issue get -c ", p.root, monkeypatch) == []
    assert complete("setright run -t ", p.root, monkeypatch) == ["app"]  # from the config


def test_apply_ids_newest_first(project, monkeypatch) -> None:
    p, applies = project
    assert len(applies) == 2
    newest_first = sorted(applies, reverse=True)  # ULIDs of one clock sort by time
    assert complete("setright applies show ", p.root, monkeypatch) == newest_first
    assert complete("setright applies cancel ", p.root, monkeypatch) == newest_first
    assert complete("setright redrive " + applies[0][:-3], p.root, monkeypatch) == [applies[0]]


def test_targets_from_the_config(project, monkeypatch) -> None:
    p, _ = project
    assert complete("setright run -t ", p.root, monkeypatch) == ["app", "audit-db"]
    assert complete("setright status -t au", p.root, monkeypatch) == ["audit-db"]
    assert complete("setright status --target a", p.root, monkeypatch) == ["app", "audit-db"]


def test_config_named_on_the_line_is_used(project, monkeypatch, tmp_path) -> None:
    p, _ = project
    line = f"setright --config {p.config_path} issue get -c c"
    assert complete(line, tmp_path, monkeypatch) == ["create-t"]


def test_no_store_completes_nothing_and_creates_nothing(tmp_path, monkeypatch) -> None:
    p = Project(tmp_path / "fresh")
    assert complete("setright issue get -c ", p.root, monkeypatch) == []
    assert complete("setright redrive ", p.root, monkeypatch) == []
    assert not (p.root / ".setright").exists()
    assert complete("setright run -t ", p.root, monkeypatch) == ["app"]  # from the config


def test_broken_config_or_store_completes_nothing(tmp_path, monkeypatch) -> None:
    (tmp_path / "setright.yaml").write_text("version: [\n")
    assert complete("setright run -t ", tmp_path, monkeypatch) == []
    assert complete("setright issue get -c ", tmp_path, monkeypatch) == []
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    (elsewhere / "setright.yaml").write_text(
        "version: 1\nstore: {url: 'sqlite:///store.db'}\ntargets: {}\n")
    (elsewhere / "store.db").write_bytes(b"not a database at all" * 100)
    assert complete("setright applies show ", elsewhere, monkeypatch) == []
    assert (elsewhere / "store.db").read_bytes() == b"not a database at all" * 100


def test_the_completion_script_is_printed(monkeypatch, tmp_path) -> None:
    for shell, marker in (("bash_source", "complete -o nosort -F"), ("zsh_source", "compdef"),
                          ("fish_source", "complete --no-files --command setright")):
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(cli, [], prog_name="setright",
                                    env={"_SETRIGHT_COMPLETE": shell})
        assert result.exit_code == 0 and marker in result.output, (shell, result.output)


def test_an_id_a_shell_would_read_as_more_than_a_word_is_never_offered(
        tmp_path: Path, monkeypatch) -> None:
    """Before: `$(touch pwned)` from the audit log was put on the command line as typed, and a
    line break in an id broke zsh's completion protocol."""
    from setright.store.audit import append_audit_row

    p = Project(tmp_path / "p")
    store = p.open_store(FixedClock(T0))
    for change_id in ("ok-1", "$(touch pwned)", "a`b`", "two\nlines", "sp ace", "q'uote"):
        with store.write() as tx:
            append_audit_row(tx, store.audit_table, {"change_id": change_id,
                                                     "state": "FAILED"}, now_ms=T0)
    store.close()
    assert complete("setright issue get -c ", p.root, monkeypatch) == ["ok-1"]
