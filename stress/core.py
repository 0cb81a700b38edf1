"""What every category shares: the seeded generator, results, shrinking, state dumps.

The harness reuses the test suite's helpers (tests/runhelp.py, hostilehelp.py,
storehelp.py and the hostile case tables), so `tests/` goes on sys.path here.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _sub in ("tests", "tests/resolutions", "tests/runner"):
    if str(ROOT / _sub) not in sys.path:
        sys.path.insert(0, str(ROOT / _sub))

#: Examples kept per category: enough to see the kinds, small enough to read.
MAX_EXAMPLES = 10
#: How long a shrink may try smaller inputs before it settles.
SHRINK_SECONDS = 20.0


def rng_for(seed: int, category: str, index: int) -> random.Random:
    """One generator per input: input `index` of `category` reproduces alone from the seed."""
    return random.Random(f"{seed}/{category}/{index}")


@dataclass
class Result:
    """One category's figures."""

    tried: int = 0
    failed: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def record(self, problem: str | None, example: Callable[[], dict[str, Any]]) -> None:
        """Count one input or trial; a broken promise keeps `example()` (built only then)."""
        self.tried += 1
        if problem is None:
            return
        self.failed += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append({"problem": problem, **example()})

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"tried": self.tried, "failed": self.failed,
                                "examples": self.examples}
        if self.notes:
            data["notes"] = self.notes
        data["seconds"] = round(self.seconds, 1)
        return data


@dataclass
class Context:
    """What a category gets: its seed, scale, scratch folder and result."""

    name: str
    seed: int
    scale: float
    work: Path
    result: Result
    only_case: int | None = None  # reproduce one input/trial

    def count(self, minimum: int) -> int:
        return max(1, round(minimum * self.scale))

    def indexes(self, minimum: int) -> range:
        if self.only_case is not None:
            return range(self.only_case, self.only_case + 1)
        return range(self.count(minimum))

    def repro(self, index: int) -> str:
        return f"python -m stress --only {self.name} --seed {self.seed} --case {index}"


def shrink_lines(text: str, fails: Callable[[str], bool]) -> str:
    """Delete chunks of lines, then single lines, while the input still fails."""
    deadline = time.monotonic() + SHRINK_SECONDS
    lines = text.split("\n")
    chunk = max(1, len(lines) // 2)
    while chunk >= 1 and time.monotonic() < deadline:
        start, changed = 0, False
        while start < len(lines) and time.monotonic() < deadline:
            candidate = lines[:start] + lines[start + chunk:]
            if candidate and fails("\n".join(candidate)):
                lines, changed = candidate, True
            else:
                start += chunk
        if not changed:
            chunk //= 2
    return "\n".join(lines)


def shrink_keys(data: Any, fails: Callable[[Any], bool]) -> Any:
    """Delete dict keys and list items (depth first) while the data still fails."""
    deadline = time.monotonic() + SHRINK_SECONDS

    def walk(node: Any, rebuild: Callable[[Any], Any]) -> Any:
        if time.monotonic() > deadline:
            return node
        if isinstance(node, dict):
            for key in list(node):
                trial = {k: v for k, v in node.items() if k != key}
                if fails(rebuild(trial)):
                    node = trial
            for key in list(node):
                node[key] = walk(node[key], lambda v, k=key, n=node: rebuild({**n, k: v}))
        elif isinstance(node, list):
            i = 0
            while i < len(node):
                trial = node[:i] + node[i + 1:]
                if fails(rebuild(trial)):
                    node = trial
                else:
                    i += 1
            for i in range(len(node)):
                node[i] = walk(node[i], lambda v, i=i, n=node: rebuild(n[:i] + [v] + n[i + 1:]))
        return node

    return walk(json.loads(json.dumps(data)), lambda v: v)


def shown(text: str | bytes, limit: int = 600) -> str:
    """An input as a report may show it: decoded loosely, long ones cut with their size."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "backslashreplace")
    if len(text) <= limit:
        return text
    return text[:limit] + f"… ({len(text)} characters)"


# -- state dumps ------------------------------------------------------------------------------

def _cell(value: Any) -> Any:
    if isinstance(value, bytes):
        return ["bytes", value.hex()]
    return [type(value).__name__, value]


def sqlite_dump(path: Path, tables: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Every row of the named tables (all tables when None), typed, in a stable order."""
    if not path.exists():
        return {}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        dump = {}
        for name in names:
            if tables is not None and name not in tables:
                continue
            rows = conn.execute(f'SELECT * FROM "{name}"').fetchall()
            dump[name] = sorted(([_cell(v) for v in row] for row in rows),
                                key=lambda r: json.dumps(r, sort_keys=True))
        return dump
    finally:
        conn.close()


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(data: Any) -> str:
    return hashlib.sha256(canonical(data)).hexdigest()[:16]


def project_state(root: Path, *, files: bool = True, skip: tuple[str, ...] = ()) -> bytes:
    """A canonical dump of the store's state tables, every target table and (with `files`)
    the store's folder listing: two dumps are byte-equal exactly when a command left them
    alone. A killed process leaves its `-wal`/`-shm` files behind, hence `files=False`."""
    from hostilehelp import STATE_TABLES

    tables = tuple(t for t in STATE_TABLES if t not in skip)
    dump: dict[str, Any] = {"store": sqlite_dump(root / ".setright" / "audit.db", tables)}
    data = root / "data"
    for db in sorted(data.glob("*.db")) if data.exists() else []:
        dump[f"target:{db.name}"] = sqlite_dump(db)
    store_dir = root / ".setright"
    if files:
        dump["files"] = sorted(p.name for p in store_dir.iterdir()) if store_dir.exists() else []
    return canonical(dump)


def raw_fingerprint(root: Path) -> str:
    """A hash of the bytes of every database file (with -wal/-shm) and the store's folder
    listing: equal fingerprints mean nothing was written; unequal ones need a `project_state`
    comparison, because a reader may refresh bookkeeping without touching a state table."""
    digest = hashlib.sha256()
    for folder in (root / ".setright", root / "data"):
        if not folder.exists():
            continue
        for path in sorted(folder.iterdir()):
            digest.update(path.name.encode() + b"\0")
            if path.is_file():
                digest.update(path.read_bytes())
    return digest.hexdigest()


_IDS = re.compile(r"\b(ap|pl|ev|fx)-[0-9A-Z]{26}\b|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                  r"[0-9a-f]{4}-[0-9a-f]{12}\b|\b[0-9a-f]{16}\b")


def masked(data: bytes) -> bytes:
    """A dump with generated ids (apply, plan, uuid, lock token) masked, for comparing two
    executions of the same decision."""
    return _IDS.sub("<id>", data.decode()).encode()


_TIMES = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z|\b1[6-9]\d{11}\b")


def timeless(data: bytes) -> bytes:
    """A masked dump with times (ISO text and epoch ms) masked too: two processes that made
    the same decision at different instants."""
    return _TIMES.sub("<t>", masked(data).decode()).encode()


def differing(a: bytes, b: bytes) -> list[str]:
    """Which tables of two `project_state` dumps differ (for a report)."""
    left, right = json.loads(a), json.loads(b)
    out = []
    for part in sorted(set(left) | set(right)):
        x, y = left.get(part), right.get(part)
        if isinstance(x, dict) and isinstance(y, dict):
            out += [f"{part}.{t}" for t in sorted(set(x) | set(y)) if x.get(t) != y.get(t)]
        elif x != y:
            out.append(part)
    return out


def integrity(path: Path) -> str | None:
    """`PRAGMA integrity_check` of a SQLite file: None when ok."""
    if not path.exists():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()
    return None if rows == ["ok"] else f"integrity_check of {path.name}: {rows[:3]}"


# -- processes --------------------------------------------------------------------------------

def setright_env(**extra: str) -> dict[str, str]:
    from runhelp import ACTOR

    env = {**os.environ, "SETRIGHT_ACTOR": ACTOR, "NO_COLOR": "1", **extra}
    for name in ("SETRIGHT_FAULT", "SETRIGHT_APPLY_PAUSE", "SETRIGHT_STORE"):
        if name not in extra:
            env.pop(name, None)
    return env


#: In-process commands run at this instant (hostilehelp.invoke's clock); real processes are
#: shifted onto the same timeline, so the template's history is as recent for both.
def timeline() -> int:
    from storehelp import T0

    return T0 + 3_600_000


def on_timeline() -> dict[str, str]:
    """The environment that puts a spawned process's clock at `timeline()` (now)."""
    from setright.timeutil import CLOCK_OFFSET_ENV

    return {CLOCK_OFFSET_ENV: str(timeline() - time.time_ns() // 1_000_000)}


def spawn(root: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    """A real `python -m setright` process in the project at `root`."""
    return subprocess.Popen(
        [sys.executable, "-m", "setright", "--config", str(root / "setright.yaml"), *args],
        cwd=root, env=setright_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return -999, out, err + f"\n(killed after {timeout}s)"
    return proc.returncode, out, err
