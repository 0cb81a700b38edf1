"""Hostile inputs for the real CLI: a project with history, a case table, and the checks.

Every case writes one file (a resolution file, a change file or setright.yaml)
into a copy of a project whose store already holds applies, tasks, an issue and
a ledger, runs commands in-process, and checks what setright promises for hostile input: exit
1, an `Error:` naming the file (and the line, when the input has lines), no
"internal error", no traceback, no secret echoed, quickly, and not one state
row changed in the store or the target.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import Result

from runhelp import Project
from setright.timeutil import FixedClock
from storehelp import T0

#: Planted in inputs whose raw content must never be echoed.
SECRET = "ghp_" + "S3cr3tT0k3n" * 4
#: A command must refuse a hostile input in well under this many seconds.
SECONDS = 15.0
#: Tables whose rows are state; a refused input must leave every row as it was.
STATE_TABLES = ("setright_audit_log", "setright_applies", "setright_tasks", "setright_operations",
                "setright_events", "setright_ledger", "setright_locks")


@dataclass(frozen=True)
class Case:
    """One hostile input: `content` for `where` (a root-relative path).

    `line` is the line the error must name (None: only the file). `bad=False`
    marks inputs that may well be valid (a truncation that happens to parse, a
    BOM): for them only robustness is checked, never the outcome.
    """

    id: str
    content: bytes | None
    line: int | None = None
    bad: bool = True
    link_to: str | None = None  # make `where` a symbolic link to this (root-relative or abs)
    secret: bool = False

    def __post_init__(self) -> None:
        if self.content is not None and not isinstance(self.content, bytes):
            object.__setattr__(self, "content", self.content.encode("utf-8"))
        if self.content is not None and SECRET.encode() in self.content:
            object.__setattr__(self, "secret", True)


@dataclass
class Outcome:
    command: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def fresh(template: Path, root: Path) -> Project:
    """A copy of the pristine project at `root` (links copied as links)."""
    shutil.copytree(template, root, symlinks=True)
    return _adopt(root)


def _adopt(root: Path) -> Project:
    """A `Project` over an existing folder (without rewriting its files)."""
    project = Project.__new__(Project)
    project.root = root
    project.clock_offset_ms = 0
    return project


def base_project(root: Path) -> Project:
    """seed applied, broken FAILED (an issue), one resolution file applied (a ledger row)."""
    clock = FixedClock(T0)
    project = Project(root)
    project.change("_0001__seed", apply="CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);")
    project.change("_0002__broken", transactional=False,
                   apply="INSERT INTO t VALUES (1, 'a');\nINSERT INTO missing VALUES (1);")
    project.change("_0003__later", apply="INSERT INTO t VALUES (3, 'c');")
    store = project.open_store(clock)
    project.run(store)
    (root / "resolutions").mkdir()
    (root / "resolutions" / "2026-11-22-broken.yaml").write_text(
        "version: 1\nreason: rolled back by hand\nresolutions:\n"
        "  - {change: broken, resolution: ROLLED_BACK}\n")
    store.close()
    applied = project.cli("apply", "--auto-approve", "--allow-dirty", clock=clock)
    assert applied.exit_code == 0, applied.output
    # A new failure, so readers have an issue to show and run has work to do.
    project.change("_0004__fails-again", apply="INSERT INTO missing VALUES (2);")
    return project


def state(project: Project) -> dict[str, Any]:
    """Every state row of the store and every row of the target, plus the file names there."""
    rows: dict[str, Any] = {}
    for db in (project.root / ".setright" / "audit.db", project.root / "data" / "app.db"):
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            names = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            for name in names:
                if db.parent.name == ".setright" and name not in STATE_TABLES:
                    continue
                rows[f"{db.name}:{name}"] = conn.execute(
                    f'SELECT * FROM "{name}" ORDER BY 1').fetchall()
        finally:
            conn.close()
    rows["files"] = sorted(p.name for p in (project.root / ".setright").iterdir())
    return rows


def place(project: Project, where: str, case: Case) -> Path:
    """Write the case's file (or link) at `where` inside the project."""
    path = project.root / where
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    if case.link_to is not None:
        target = Path(case.link_to)
        if not target.is_absolute():
            target = project.root / target
        if case.content is not None and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(case.content)
        os.symlink(target, path)
    else:
        assert case.content is not None
        path.write_bytes(case.content)
    return path


def invoke(project: Project, *args: str) -> Outcome:
    start = time.monotonic()
    result: Result = project.cli(*args, clock=FixedClock(T0 + 3_600_000))
    seconds = time.monotonic() - start
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += f"\nTraceback: {type(result.exception).__name__}: {result.exception}"
    return Outcome(tuple(args), result.exit_code, result.stdout, stderr, seconds)


def check(case: Case, outcome: Outcome, name: str, *,
          error_first: bool = True, line_format: Callable[[str, int], str] | None = None) -> None:
    """What every hostile input must get; `name` is the file the error must name.

    Failure messages start with a tag (INTERNAL, TRACEBACK, SLOW, LEAK, EXIT,
    NOT-ERROR, UNNAMED, NO-LINE) so a sweep can be counted by kind.
    """
    out = outcome.output
    shown = f"{' '.join(outcome.command)} → exit {outcome.exit_code}:\n{out[:2000]}"
    assert "internal error" not in out, f"INTERNAL {case.id}: {shown}"
    assert "Traceback" not in out, f"TRACEBACK {case.id}: {shown}"
    assert outcome.seconds < SECONDS, f"SLOW {case.id}: {outcome.seconds:.1f}s {shown}"
    if case.secret or case.link_to is not None:
        assert SECRET not in out and SECRET[:12] not in out, f"LEAK {case.id}: {shown}"
    assert outcome.exit_code in (0, 1, 2), f"EXIT {case.id}: {shown}"
    if not case.bad:
        return
    assert outcome.exit_code == 1, f"EXIT {case.id}: {shown}"
    if error_first:
        assert outcome.stderr.startswith("Error:"), f"NOT-ERROR {case.id}: {shown}"
    assert name in out, f"UNNAMED {case.id}: {shown}"
    if case.line is not None:
        wanted = line_format(name, case.line) if line_format else f"{name}:{case.line}:"
        assert wanted in out, f"NO-LINE {case.id} (wanted {wanted!r}): {shown}"


# -- building blocks for the case tables ------------------------------------------------


def bomb(levels: int = 8, width: int = 10, *, key: str = "x", indent: int = 0) -> str:
    """The 412-byte 'billion laughs': `&aN [*aN-1, ...]`, `levels` deep, under `key`."""
    lines = ["a0: &a0 lol"]
    for n in range(1, levels + 1):
        lines.append(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * width)}]")
    pad = " " * indent
    return f"{pad}{key}:\n" + "".join(f"{pad}  {line}\n" for line in lines)


def nested(depth: int, *, flow: bool = True) -> str:
    """A value nested `depth` levels deep (flow `[[[…]]]` or block mappings)."""
    if flow:
        return "[" * depth + "1" + "]" * depth
    return "\n".join("  " * i + "k:" for i in range(depth)) + " 1"


def replace_line(text: str, line: int, new: str) -> str:
    """`text` with its 1-based `line` replaced."""
    lines = text.split("\n")
    lines[line - 1] = new
    return "\n".join(lines)


def truncations(text: str, step: int) -> Iterable[tuple[int, str]]:
    for offset in range(1, len(text) - 1, step):
        yield offset, text[:offset]


def wrong_types(text: str, fields: dict[str, tuple[int, str, list[str]]]) -> list[Case]:
    """For each field (line, indent+key, surely-invalid values): one case per value."""
    cases = []
    for field_name, (line, prefix, values) in fields.items():
        for index, value in enumerate(values):
            cases.append(Case(f"type-{field_name}-{index}",
                              replace_line(text, line, f"{prefix}: {value}"), line=line))
    return cases
