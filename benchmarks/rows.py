"""The rows of `make bench`: per row, what is measured, its floor, its goal and the set-up
that builds its data and the two commands (`run.py` times them).

A set-up gets a fresh folder (`root`, the project) and the sizes, and returns a `Case`:
setright's command, the floor's, and what runs around them. Rows whose store is a
server build it in a fresh database through `servers.py` and drop it afterwards.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import build  # noqa: E402
import servers  # noqa: E402
from measure import Command, Goal, MemoryGoal, Sample  # noqa: E402

SETRIGHT = [sys.executable, "-m", "setright"]
FLOOR = [sys.executable, str(HERE / "floors.py")]


@dataclass(frozen=True)
class Sizes:
    rows: int
    issues: int
    entries: int
    files: int
    ops: int
    run_changes: int

    @classmethod
    def scaled(cls, scale: float) -> Sizes:
        def at_least(n: float, low: int) -> int:
            return max(low, int(n * scale))

        entries = at_least(10_000, 4)
        return cls(rows=max(at_least(1_000_000, 200), entries * 10), issues=entries,
                   entries=entries, files=min(entries, at_least(2_000, 2)),
                   ops=at_least(10_000, 10), run_changes=at_least(2_000, 3))


class Skip(Exception):
    """A row that cannot run on this machine or branch; its message is printed instead."""


@dataclass
class Case:
    """One row, ready to time: the two commands and what runs around them."""

    ours: Command
    floor: Command
    prepare: Callable[[], None] | None = None
    check: Callable[[Sample, Sample], None] | None = None
    #: a part of setright's work timed alone after the pair (its label, its command): the
    #: imports a command needs before its first query, which a floor pays too or (for `run`,
    #: whose floor imports no dependency of setright) shows what the dependencies cost
    part: tuple[str, Command] | None = None


@dataclass(frozen=True)
class Row:
    key: str
    measure: str
    floor: str
    goal: Goal
    setup: Callable[[Path, Sizes, ExitStack], Case]
    memory: MemoryGoal | None = None   # also print setright's peak RSS against this


# -- the rows' set-ups ------------------------------------------------------------------


def _same_issues(ours: Sample, floor: Sample) -> None:
    mine = [i["change_id"] for i in json.loads(ours.stdout)["issues"]]
    theirs = [i["change_id"] for i in json.loads(floor.stdout)["issues"]]
    if sorted(mine) != sorted(theirs):
        raise SystemExit(f"issue list found {len(mine)} issues, the fold {len(theirs)}")


@contextmanager
def _store(dialect: str) -> Iterator[str]:
    """The store URL of a row: a SQLite file in the project, or a fresh server database."""
    if dialect == "sqlite":
        yield "sqlite:///.setright/audit.db"
        return
    with servers.fresh_database(dialect) as url:
        yield url


def _issue_store(root: Path, sizes: Sizes, stack: ExitStack, dialect: str, issues: int) -> str:
    """A project at `root` whose store (on `dialect`) holds the generated log, folded."""
    try:
        url = stack.enter_context(_store(dialect))
    except servers.Unavailable as exc:
        raise Skip(str(exc)) from None
    build.write_config(root, store=url)
    if dialect == "sqlite":
        build.build_issue_store(root, sizes.rows, issues)
    else:
        servers.fill_server_store(url, sizes.rows, issues, dialect)
    build.fold(root)
    return str(root / ".setright" / "audit.db") if dialect == "sqlite" else url


#: what a command reading a store of each dialect imports before its first query
IMPORTS = {"sqlite": "click, yaml", "postgresql": "click, yaml, psycopg",
           "mysql": "click, yaml, pymysql"}


def issue_list_case(dialect: str) -> Callable[[Path, Sizes, ExitStack], Case]:
    def setup(root: Path, sizes: Sizes, stack: ExitStack) -> Case:
        store = _issue_store(root, sizes, stack, dialect, sizes.issues)
        imports = IMPORTS[dialect]
        return Case(Command([*SETRIGHT, "issue", "list", "--json"], root),
                    Command([*FLOOR, "fold", store, "setright_audit_log"], root),
                    check=_same_issues,
                    part=(f"of which `python -c 'import {imports}'` alone",
                          Command([sys.executable, "-c", f"import {imports}"], root)))
    return setup


def first_issue_list(root: Path, sizes: Sizes, stack: ExitStack) -> Case:
    master = build.build_flamingock_file(root.parent / "flamingock-master.db", sizes.rows,
                                         sizes.issues)
    build.write_config(root, store="sqlite:///flamingock.db", audit_table=build.FLAMINGOCK_TABLE)
    live = root / "flamingock.db"

    def fresh_copy() -> None:
        for suffix in ("-wal", "-shm"):
            Path(f"{live}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(master, live)

    fresh_copy()
    return Case(Command([*SETRIGHT, "issue", "list", "--json"], root),
                Command([*FLOOR, "fold", str(master), build.FLAMINGOCK_TABLE], root),
                prepare=fresh_copy, check=_same_issues)


def plan_case(dialect: str) -> Callable[[Path, Sizes, ExitStack], Case]:
    def setup(root: Path, sizes: Sizes, stack: ExitStack) -> Case:
        store = _issue_store(root, sizes, stack, dialect, sizes.entries)
        build.write_resolution_files(root, build.issue_change_ids(sizes.entries), sizes.files)

        def check(ours: Sample, floor: Sample) -> None:
            actions = json.loads(ours.stdout)["actions"]
            lines = floor.stdout.decode().splitlines()
            if not (len(actions) == len(lines) == sizes.entries
                    and {a["outcome"] for a in actions} == {"change"}):
                raise SystemExit(f"plan: {len(actions)} actions, floor {len(lines)} entries")

        return Case(Command([*SETRIGHT, "plan", "--format", "json"], root),
                    Command([*FLOOR, "plan", str(root), store], root), check=check)
    return setup


def _redrive_project(root: Path, sizes: Sizes) -> tuple[str, int]:
    fail_at = max(1, sizes.ops * 9 // 10)
    apply_id = build.build_failed_apply(root, sizes.ops, fail_at)
    build.write_redrive_file(root, apply_id)
    return apply_id, fail_at


def _redrive_commands(root: Path, apply_id: str, outcome: str, exit_codes: tuple[int, ...],
                      ops: int) -> Case:
    def check(ours: Sample, floor: Sample) -> None:
        [action] = json.loads(ours.stdout)["actions"]
        if action["outcome"] != outcome or json.loads(floor.stdout)["operations"] != ops:
            raise SystemExit(f"redrive plan: {action['outcome']}, expected {outcome}")

    return Case(Command([*SETRIGHT, "plan", "--format", "json"], root, exit_codes),
                Command([*FLOOR, "redrive", str(root), str(root / ".setright" / "audit.db"),
                         apply_id], root), check=check)


def redrive_accepted(root: Path, sizes: Sizes, stack: ExitStack) -> Case:
    apply_id, _ = _redrive_project(root, sizes)
    return _redrive_commands(root, apply_id, "change", (0,), sizes.ops)


def redrive_refused(root: Path, sizes: Sizes, stack: ExitStack) -> Case:
    apply_id, fail_at = _redrive_project(root, sizes)
    build.edit_statement(root, sizes.ops, fail_at, fail_at)
    return _redrive_commands(root, apply_id, "conflict", (0, 1), sizes.ops)


#: what `run` into a new store imports: the CLI, YAML, sqlite-utils for the store's tables
#: and deepdiff for the apply's `dh1:` plan fingerprint (the floor imports only yaml)
RUN_IMPORTS = "click, yaml, sqlite_utils, deepdiff"


def run_inserts(root: Path, sizes: Sizes, stack: ExitStack) -> Case:
    def fresh_project() -> None:
        shutil.rmtree(root, ignore_errors=True)
        build.build_insert_project(root, sizes.run_changes)

    def check(ours: Sample, floor: Sample) -> None:
        if json.loads(floor.stdout)["applied"] != sizes.run_changes:
            raise SystemExit("the runner floor applied the wrong number of changes")

    fresh_project()
    return Case(Command([*SETRIGHT, "run"], root),
                Command([*FLOOR, "run", str(root), str(root.parent / "floor-out")], root.parent),
                prepare=fresh_project, check=check,
                part=(f"of which `python -c 'import {RUN_IMPORTS}'` alone",
                      Command([sys.executable, "-c", f"import {RUN_IMPORTS}"], root)))


def run_bookkeeping(root: Path, sizes: Sizes, stack: ExitStack) -> Case:
    """`run` into a store and target setright created empty, beside the floor that makes
    the same store writes per change with no logic around them."""
    empty = root.parent / "empty"
    build.build_insert_project(empty, 0)
    subprocess.run([*SETRIGHT, "run"], cwd=empty, check=True, capture_output=True)
    out = root.parent / "floor-out"

    def fresh_project() -> None:
        shutil.rmtree(root, ignore_errors=True)
        build.build_insert_project(root, sizes.run_changes)
        for folder in (".setright", "data"):
            shutil.copytree(empty / folder, root / folder, dirs_exist_ok=True)

    def check(ours: Sample, floor: Sample) -> None:
        if json.loads(floor.stdout)["applied"] != sizes.run_changes:
            raise SystemExit("the bookkeeping floor applied the wrong number of changes")
        written = (_rows_written(root / ".setright" / "audit.db", root / "data" / "bench.db"),
                   _rows_written(out / "audit.db", out / "bench.db"))
        if written[0] != written[1]:
            raise SystemExit(f"the bookkeeping floor wrote other rows than setright: {written}")

    return Case(Command([*SETRIGHT, "run"], root),
                Command([*FLOOR, "bookkeeping", str(root), str(empty), str(out)], root.parent),
                prepare=fresh_project, check=check)


def _rows_written(store: Path, target: Path) -> dict[str, object]:
    """What a run left, table by table (the floor must write what setright writes)."""
    import sqlite3

    counts: dict[str, object] = {}
    for path, queries in ((store, {
            "audit": 'SELECT state, count(*) FROM "setright_audit_log" GROUP BY 1 ORDER BY 1',
            "events": "SELECT kind, new_state, count(*) FROM setright_events GROUP BY 1, 2"
                      " ORDER BY 1, 2",
            "tasks": "SELECT state, count(*) FROM setright_tasks GROUP BY 1",
            "operations": "SELECT state, count(*) FROM setright_operations GROUP BY 1",
            "change_state": "SELECT state, count(*) FROM setright_change_state GROUP BY 1",
            "serial": "SELECT value FROM setright_meta WHERE key = 'serial'"}),
            (target, {"markers": "SELECT count(*) FROM setright_markers"})):
        conn = sqlite3.connect(path)
        try:
            counts.update({name: conn.execute(sql).fetchall() for name, sql in queries.items()})
        finally:
            conn.close()
    return counts


def small_project(root: Path) -> None:
    build.write_config(root)
    build.build_issue_store(root, 100, 3)
    build.fold(root)


def help_case(root: Path, sizes: Sizes, stack: ExitStack) -> Case:
    return Case(Command([*SETRIGHT, "--help"], root),
                Command([sys.executable, "-c", "import click"], root))


def small_issue_list(root: Path, sizes: Sizes, stack: ExitStack) -> Case:
    small_project(root)
    return Case(Command([*SETRIGHT, "issue", "list"], root),
                Command([sys.executable, "-c", "import click, yaml"], root))


def _rows() -> list[Row]:
    at_most = Goal
    rows = [
        Row("issue-list", "`issue list --json`, {rows:,} audit rows, {issues:,} issues",
            "tight full-log fold", at_most("≥ 10× faster", 0.1), issue_list_case("sqlite")),
        Row("issue-list-first", "first `issue list --json`, foreign {rows:,}-row Flamingock "
            "table", "the same fold", at_most("≤ 1.5× the fold", 1.5), first_issue_list),
        Row("plan", "`plan --format json`, {entries:,} entries in {files:,} files",
            "CSafeLoader + 1 query per entry", at_most("≤ 2×", 2.0), plan_case("sqlite"),
            memory=MemoryGoal("peak RSS ≤ 200 MiB", 200 * 2**20)),
        Row("redrive", "`plan` of a redrive, {ops:,} operations",
            "deepdiff+yaml import, parse, split, sha256, read ops", at_most("≤ 2×", 2.0),
            redrive_accepted),
        Row("redrive-refused", "the same redrive refused (1 edited statement)", "same floor",
            at_most("≤ 2× floor + 0.5 s", 2.0, 0.5), redrive_refused),
        Row("run", "`run`, {run_changes:,} one-row INSERT changes",
            "sqlite3: 2 commits per change, WAL, FULL", at_most("≤ 1.5×", 1.5), run_inserts),
        Row("run-bookkeeping", "the same `run`, into a store setright created",
            "sqlite3: the same store writes per change", Goal("— (explains `run`)", None),
            run_bookkeeping),
        Row("help", "`setright --help`", "python -c 'import click'", at_most("≤ 1.5×", 1.5),
            help_case),
        Row("issue-list-small", "`issue list`, small project", "python -c 'import click, yaml'",
            at_most("≤ 2×", 2.0), small_issue_list),
    ]
    for dialect in servers.DIALECTS:
        rows.append(Row(f"issue-list@{dialect}", f"`issue list --json`, store on {dialect}",
                        "tight full-log fold", at_most("≥ 10× faster", 0.1),
                        issue_list_case(dialect)))
        rows.append(Row(f"plan@{dialect}", f"`plan --format json`, store on {dialect}",
                        "CSafeLoader + 1 query per entry", at_most("≤ 2×", 2.0),
                        plan_case(dialect)))
    return rows


ROWS = _rows()
