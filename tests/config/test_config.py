"""setright.yaml: discovery, defaults, path resolution, and errors that name file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from setright.config import find_config, load_config, resolve_config
from setright.errors import ConfigError, InvalidInput, SetrightError

GOOD = """\
version: 1
store: {url: "sqlite:///.setright/audit.db"}
targets:
  user-db: {url: "sqlite:///data/user.db", changes: changes/user-db}
redrive: {max_age: 2h}
lock: {ttl: 90s}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "setright.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_paths_relative_to_the_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.store_path == tmp_path / ".setright" / "audit.db"
    assert config.targets["user-db"].path == tmp_path / "data" / "user.db"
    assert config.targets["user-db"].changes == tmp_path / "changes" / "user-db"
    assert config.resolutions == tmp_path / "resolutions"
    assert (config.audit_table, config.max_attempts) == ("setright_audit_log", 3)
    assert (config.redrive_max_age, config.lock_ttl) == (7200.0, 90.0)
    assert (config.require_ticket, config.require_committed) == (False, True)


def test_a_linked_config_configures_the_folder_it_is_found_in(tmp_path: Path) -> None:
    """Before: the link was resolved, so the shared file's folder was the project and
    `validate` checked (and `plan` planned) another folder's resolution files."""
    (tmp_path / "shared").mkdir()
    shared = write(tmp_path / "shared", GOOD)
    project = tmp_path / "project"
    project.mkdir()
    (project / "setright.yaml").symlink_to(shared)
    for config in (load_config(project / "setright.yaml"),
                   resolve_config(None, None, project)):
        assert config.root == project
        assert config.resolutions == project / "resolutions"
        assert config.store_path == project / ".setright" / "audit.db"


def test_minimal_store_only_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "version: 1\nstore: {}\ntargets: {}\n"))
    assert config.targets == {}
    assert config.store_path == tmp_path / ".setright" / "audit.db"


def test_found_from_a_subdirectory(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert find_config(sub) == tmp_path / "setright.yaml"
    assert resolve_config(None, None, sub).root == tmp_path


def test_store_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD)
    monkeypatch.setenv("SETRIGHT_STORE", "sqlite:////elsewhere/env.db")
    assert load_config(path).store_path == Path("/elsewhere/env.db")
    assert load_config(path, store_override="sqlite:///cli.db").store_path == tmp_path / "cli.db"


def test_a_bad_override_names_where_it_was_given(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD)
    monkeypatch.setenv("SETRIGHT_STORE", "mysql://u@h/db?read_timeout=soon")
    with pytest.raises(ConfigError, match=r"^SETRIGHT_STORE: URL .*read_timeout must be"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"^--store: unsupported database URL 'x'"):
        load_config(path, store_override="x")
    with pytest.raises(ConfigError, match=r"^--store: URL .*unknown parameter 'tls'"):
        resolve_config(None, "mysql://u@h/db?tls=1", tmp_path / "elsewhere")


def test_a_refused_url_never_shows_its_password(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nstore: {url: 'mysql+x://ops:hunter2@db/a'}\n"
                           "targets:\n  app: {url: 'oracle://u@h/d?password=hunter2', "
                           "changes: changes}\n")
    with pytest.raises(InvalidInput) as err:
        load_config(path)
    text = "\n".join(map(str, err.value.problems))
    assert "hunter2" not in text and text.count("***") == 2, text


def test_no_config_without_store_is_an_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SETRIGHT_STORE", raising=False)
    with pytest.raises(ConfigError, match="no setright.yaml in"):
        resolve_config(None, None, tmp_path)
    assert resolve_config(None, "sqlite:///x.db", tmp_path).store_path == tmp_path / "x.db"


BAD = {
    "wrong-types": """\
version: 1
store: {url: 42, audit_table: "bad name"}
targets:
  user-db: {url: "postgres://x", colour: blue}
run: {max_attempts: 0}
lock: {ttl: five minutes}
""",
    "missing-required": "store: {}\n",
    "unknown-section": "version: 1\nstore: {}\ntargets: {}\nretries: 3\n",
    "syntax": "version: 1\nstore: {url: [unclosed\ntargets: {}\n",
    "duplicate-key": "version: 1\nstore: {}\ntargets: {}\nstore: {}\n",
    "not-a-mapping": "- just\n- a list\n",
    "empty": "",
    "url-parameters": """\
version: 1
store: {url: "mysql://ops@db/audit?ssl_verify_cert=ture&read_timeout=30"}
targets:
  app: {url: "postgresql://app@db/app?connect_timeout=nan", changes: changes}
  shop: {url: "mariadb://app@db/shop?charset=latin1", changes: changes}
""",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_errors(tmp_path: Path, monkeypatch, snapshot, case: str) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, BAD[case])
    with pytest.raises(SetrightError) as err:
        load_config(path)
    assert isinstance(err.value, (ConfigError, InvalidInput))
    assert "\n".join([err.value.message, *err.value.details]) == snapshot


def test_store_timezone_is_an_iana_zone(tmp_path: Path) -> None:
    good = write(tmp_path, "version: 1\nstore: {timezone: Europe/Berlin}\ntargets: {}\n")
    assert load_config(good).timezone == "Europe/Berlin"
    assert load_config(write(tmp_path, "version: 1\nstore: {}\ntargets: {}\n")).timezone == "UTC"
    bad = write(tmp_path, "version: 1\nstore:\n  timezone: Mars/Olympus\ntargets: {}\n")
    with pytest.raises(InvalidInput) as err:
        load_config(bad)
    [problem] = err.value.problems
    assert str(problem).startswith(f"{bad}:3:") and "unknown time zone 'Mars/Olympus'" in str(problem)
