"""`setright lock list | release [--force]`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from storehelp import T0
from setright.cli import cli
from setright.store import Store
from setright.store.locks import Locker
from setright.timeutil import FixedClock


@pytest.fixture
def held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "setright.yaml").write_text("version: 1\nstore: {}\ntargets: {}\n")
    store = Store.open(tmp_path / ".setright" / "audit.db", clock=FixedClock(T0))
    live, _ = Locker(store, owner="alice@build-7:4242").acquire("target:user-db", "run")
    old, _ = Locker(store, ttl=1, owner="bob@laptop:17").acquire("setright:apply", "apply")
    store.close()
    return live.lock_id, old.lock_id


def invoke(runner: CliRunner, *args: str, seconds: float = 30):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, list(args), obj={"clock": FixedClock(T0 + int(seconds * 1000))})


def test_list(runner: CliRunner, held, snapshot) -> None:
    live, old = held
    result = invoke(runner, "lock", "list")
    assert result.exit_code == 0
    assert result.output.replace(live, "L" * 16).replace(old, "O" * 16) == snapshot
    data = json.loads(invoke(runner, "lock", "list", "--json").output)
    assert [lk["name"] for lk in data["locks"]] == ["setright:apply", "target:user-db"]


def test_release_someone_elses_live_lock_needs_force(runner: CliRunner, held, snapshot) -> None:
    live, _ = held
    result = invoke(runner, "lock", "release", live)
    assert result.exit_code == 1
    assert result.stderr.replace(live, "<live-id>") == snapshot
    forced = invoke(runner, "lock", "release", live, "--force")
    assert forced.exit_code == 0
    assert forced.output.replace(live, "<live-id>") == snapshot


def test_release_an_expired_lock(runner: CliRunner, held) -> None:
    _, old = held
    result = invoke(runner, "lock", "release", old)
    assert result.exit_code == 0 and "Released lock" in result.output


@pytest.mark.parametrize("lock_id", ["deadbeef", "it's", "ключ"])
def test_release_unknown_id(runner: CliRunner, held, lock_id) -> None:
    result = invoke(runner, "lock", "release", lock_id)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"Error: no lock with ID {lock_id!r}"
