"""A throw-away setright project on disk for runner tests: config, change files, target files."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from setright.cli import cli
from setright.config import Config, load_config
from setright.runner.changes import load_all
from setright.runner.execute import run_targets
from setright.runner.options import RunOptions
from setright.runner.report import TargetOutcome
from setright.store import Store
from setright.timeutil import CLOCK_OFFSET_ENV, FixedClock

ACTOR = "tester@example.com"


class Project:
    """`setright.yaml` with SQLite targets, each with a changes folder."""

    def __init__(self, root: Path, *, targets: Sequence[str] = ("app",), ttl: str = "60s",
                 max_attempts: int = 3, start_ms: int | None = None,
                 store_url: str = "sqlite:///.setright/audit.db",
                 urls: dict[str, str] | None = None) -> None:
        """`start_ms` shifts the clock of every process `spawn` starts so that this project's
        timeline begins at that instant (SETRIGHT_CLOCK_OFFSET_MS): dates in output are then
        the test's, not the day it runs. `store_url`: the audit store (a server's, say);
        `urls` puts targets on servers (name → URL)."""
        self.root = root
        self.clock_offset_ms = 0
        if start_ms is not None:
            self.start_at(start_ms)
        config = {
            "version": 1,
            "store": {"url": store_url},
            "targets": {t: {"url": (urls or {}).get(t, f"sqlite:///data/{t}.db"),
                            "changes": f"changes/{t}"} for t in targets},
            "run": {"max_attempts": max_attempts},
            "lock": {"ttl": ttl},
        }
        root.mkdir(parents=True, exist_ok=True)
        (root / "setright.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        for t in targets:
            (root / "changes" / t).mkdir(parents=True, exist_ok=True)

    @property
    def config_path(self) -> Path:
        return self.root / "setright.yaml"

    def start_at(self, start_ms: int) -> None:
        """From now on, processes `spawn` starts run on a timeline beginning at `start_ms`."""
        self.clock_offset_ms = start_ms - time.time_ns() // 1_000_000

    def now_ms(self) -> int:
        """Now on this project's (possibly shifted) timeline."""
        return time.time_ns() // 1_000_000 + self.clock_offset_ms

    def config(self) -> Config:
        return load_config(self.config_path)

    def change(self, name: str, target: str = "app", **fields: Any) -> Path:
        """Write `changes/<target>/<name>.yaml`; `fields` are the YAML keys (id defaults to name)."""
        data = {"id": name.split("__", 1)[-1], **fields}
        path = self.root / "changes" / target / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def open_store(self, clock: Any) -> Store:
        config = self.config()
        store = Store.open(config.store, config.audit_table, clock, timezone=config.timezone)
        store.refresh()
        return store

    def db(self, target: str = "app") -> sqlite3.Connection:
        return sqlite3.connect(self.root / "data" / f"{target}.db")

    def query(self, sql: str, target: str = "app") -> list[tuple[Any, ...]]:
        conn = self.db(target)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def store_rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the SQLite store from outside, read-only (never creates it); a store or table
        not made yet reads as no rows (a test polling a runner in another process)."""
        path = self.root / ".setright" / "audit.db"
        try:
            conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=10)
        except sqlite3.OperationalError:
            return []
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        finally:
            conn.close()

    def markers(self, target: str = "app") -> list[tuple[str, int]]:
        return self.query("SELECT change_id, seq FROM setright_markers ORDER BY change_id, seq",
                          target)

    def run(self, store: Store, *, targets: Sequence[str] | None = None,
            **options: Any) -> list[TargetOutcome]:
        """`setright run` in-process, without the lease-keeper thread (the clock is fixed)."""
        config = self.config()
        options.setdefault("keep_lease_alive", False)
        store.refresh()
        return run_targets(store, config, load_all(config), list(targets or config.targets),
                           actor=ACTOR, options=RunOptions(**options))

    def cli(self, *args: str, clock: FixedClock | None = None, input: str | None = None) -> Result:
        obj = {"clock": clock} if clock is not None else None
        return CliRunner().invoke(cli, ["--config", str(self.config_path), *args], obj=obj,
                                  input=input, env={"SETRIGHT_ACTOR": ACTOR})

    def spawn(self, *args: str, fault: str | None = None) -> subprocess.Popen[str]:
        """`python -m setright run` in a real process (crash and concurrency tests)."""
        env = {**os.environ, "SETRIGHT_ACTOR": ACTOR, "NO_COLOR": "1"}
        env.pop("SETRIGHT_FAULT", None)
        if self.clock_offset_ms:
            env[CLOCK_OFFSET_ENV] = str(self.clock_offset_ms)
        if fault:
            env["SETRIGHT_FAULT"] = fault
        return subprocess.Popen(
            [sys.executable, "-m", "setright", "--config", str(self.config_path), *args],
            cwd=self.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=_default_ctrl_c)


def _default_ctrl_c() -> None:
    """In the child: SIGINT as in a terminal. A suite started in the background by a
    shell (`make test &`) ignores SIGINT, and its children would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: what stderr ends with after a Ctrl-C once the command wrote to the store
INTERRUPTED = ("Error: interrupted; what the command did before is recorded in the audit store\n"
               "  run 'setright status' and 'setright issue list' to see where it stopped\n")


def ctrl_c(proc: subprocess.Popen[str], ready: Callable[[], Any],
           timeout: float = 30.0) -> tuple[int, str]:
    """Once `ready()` holds, Ctrl-C the process: its exit code and stderr. A process still
    running after `timeout` seconds is killed, and the test fails."""
    try:
        wait_for(ready)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def state_rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    tables = [store.audit_table, "setright_applies", "setright_tasks", "setright_operations",
              "setright_events"]
    return {t: store.conn.execute(f'SELECT * FROM "{t}" ORDER BY 1, 2').fetchall()
            for t in tables}


def audit_states(store: Store, change_id: str) -> list[str]:
    return [r[0] for r in store.conn.execute(
        f'SELECT state FROM "{store.audit_table}" WHERE change_id = ? ORDER BY id', (change_id,))]


def one(store: Store, sql: str, *params: Any) -> Any:
    return store.conn.execute(sql, params).fetchone()


_APPLY_ID = re.compile(r"ap-[0-9A-Z]{26}")
_PLAN_ID = re.compile(r"pl-[0-9A-Z]{26}")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T[\d:.]*Z?")  # also cut short in a table cell
_TOKEN = re.compile(r"\b[0-9a-f]{16}\b")
_OWNER = re.compile(r"[\w.-]+@[\w.-]+:\d+")


def normalise(text: str) -> str:
    """Apply ids numbered by first appearance; times, lock tokens and owners replaced."""
    seen: dict[str, str] = {}

    def apply_id(match: re.Match[str]) -> str:
        return seen.setdefault(match.group(0), f"ap-<{len(seen) + 1}>")

    text = _APPLY_ID.sub(apply_id, text)
    text = _PLAN_ID.sub("pl-<plan>", text)
    text = _ISO.sub("<time>", text)
    text = _OWNER.sub("<owner>", text)
    return _TOKEN.sub("<token>", text)


def mask(text: str) -> str:
    """Apply ids numbered by first appearance, times and lock tokens masked, this process's
    lock owner named; every replacement keeps the width, so tables stay aligned."""
    from setright.store.locks import default_owner

    seen: dict[str, str] = {}

    def apply_id(match: re.Match[str]) -> str:
        return seen.setdefault(match.group(0), "ap-" + str(len(seen) + 1).rjust(26, "0"))

    text = _APPLY_ID.sub(apply_id, text)
    text = _PLAN_ID.sub("pl-<plan>", text)
    text = _ISO.sub("####-##-##T##:##:##.###Z", text)
    text = text.replace(default_owner(), "<runner>")
    return _TOKEN.sub("<lock-token>----", text)
