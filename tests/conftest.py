"""Shared fixtures: a pinned clock, a fresh store, a CLI runner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from setright.store import Store
from setright.timeutil import FixedClock
from serverhelp import STORE_BACKENDS, store_database
from storehelp import T0  # 2026-11-22T12:00:00.000Z: every test starts from the same instant

__all__ = ["T0"]

#: CI's own environment names a pull request (recorded by apply, audit fix, redrive):
#: tests run with none, so a run inside a pull-request build sees what any other sees.
CI_PR_ENV = ("SETRIGHT_PR", "GITHUB_REF", "GITHUB_EVENT_PATH", "GITHUB_SERVER_URL",
             "GITHUB_REPOSITORY")


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own validation cache (setright.validcache), never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture(autouse=True)
def _no_ci_pull_request(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CI_PR_ENV:
        monkeypatch.delenv(name, raising=False)


def _forget_the_terminal_size() -> None:
    """Tables follow COLUMNS (render/style.py). GNU readline, once loaded, exports
    COLUMNS/LINES at the C level (invisible in os.environ, inherited by children), so
    drop both: every snapshot is taken at the fixed width of piped output."""
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)
        os.unsetenv(name)


_forget_the_terminal_size()


@pytest.fixture(autouse=True)
def _no_terminal_size() -> None:
    _forget_the_terminal_size()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def store(tmp_path: Path, clock: FixedClock) -> Iterator[Store]:
    s = Store.open(tmp_path / ".setright" / "audit.db", clock=clock)
    yield s
    s.close()


@pytest.fixture(params=STORE_BACKENDS)
def backend_store(request: pytest.FixtureRequest, tmp_path: Path,
                  clock: FixedClock) -> Iterator[Store]:
    """A fresh store on each backend in turn (SQLite, PostgreSQL, MySQL/MariaDB; a new
    database per test), for store tests that must hold on every one."""
    from setright.db import parse_url

    with store_database(request.param) as url:
        s = Store.open(parse_url(url, tmp_path), clock=clock)
        try:
            yield s
        finally:
            s.close()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
