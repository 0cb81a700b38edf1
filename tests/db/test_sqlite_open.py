"""Opening a SQLite file for writing: the switch to WAL waits for a busy file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from setright.db import sqlite as sqlite_impl
from setright.db.sqlite import open_writer


class _BusyAtFirst:
    """A connection whose first `PRAGMA journal_mode = WAL` finds the file busy, as a
    process does when another one is creating the same file (SQLite returns that at once,
    without calling the busy handler)."""

    def __init__(self, real: sqlite3.Connection, busy_times: int) -> None:
        self.real, self.busy_times, self.switches = real, busy_times, 0

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "PRAGMA journal_mode = WAL":
            self.switches += 1
            if self.switches <= self.busy_times:
                error = sqlite3.OperationalError("database is locked")
                error.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
                raise error
        return self.real.execute(sql, *args)

    def close(self) -> None:
        self.real.close()


def _connect_busy(monkeypatch: pytest.MonkeyPatch, busy_times: int) -> list[_BusyAtFirst]:
    made: list[_BusyAtFirst] = []
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> _BusyAtFirst:
        made.append(_BusyAtFirst(real_connect(*args, **kwargs), busy_times))
        return made[-1]

    monkeypatch.setattr(sqlite_impl.sqlite3, "connect", connect)
    return made


def test_a_busy_switch_to_wal_is_waited_for(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    made = _connect_busy(monkeypatch, busy_times=3)
    conn = open_writer(tmp_path / "new.db", require_wal=True)
    assert made[0].switches == 4
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_a_file_busy_for_longer_than_the_timeout_is_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_impl, "BUSY_TIMEOUT_MS", 50)
    _connect_busy(monkeypatch, busy_times=10**9)
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        open_writer(tmp_path / "new.db")


def test_processes_creating_one_store_at_once_all_open_it(tmp_path: Path) -> None:
    """Six processes open (and so create) one store at the same moment, five times over."""
    script = ("import sys; from pathlib import Path; from setright.store import Store;"
              " Store.open(Path(sys.argv[1])).close()")
    for trial in range(5):
        path = tmp_path / f"t{trial}" / "audit.db"
        procs = [subprocess.Popen([sys.executable, "-c", script, str(path)],
                                  stderr=subprocess.PIPE, text=True) for _ in range(6)]
        errors = [p.communicate()[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 6, errors
