"""How `setright plan` scales: 10,000 resolution entries, and a redrive of 10,000 operations.

Part 1 (resolutions) builds a store with N audit rows (default 1,000,000,
built as `issue_list.py` does) in which K changes (default 10,000) are issues
(FAILED, NON_TX), writes F resolution files (default 2,000) of K / F entries
each marking them APPLIED, and measures:

* loading and checking the files (YAML, schema, digests, ledger checks);
* `plan_project` end to end (every entry evaluated, cross-entry conflicts);
* rendering the plan as text, Markdown (a PR comment: must stay under
  65,000 characters) and JSON;
* `setright plan --format json` as a whole process.

Part 2 (redrive) runs the real runner on one non-transactional change of M
one-row INSERTs (default 10,000) that fails at operation 9/10 of M, then
measures `plan` of a redrive entry for it (accepted: an exact match), and of
the same redrive after ONE statement of the change file was edited (refused,
with a one-line explanation), beside what a naive implementation would do: a
`DeepDiff` of all M recorded operations against all M operations of the file.
It also times the drift check alone for an apply of M one-operation tasks
(synthetic copies of the real task: running M changes would be minutes of
fsyncs), which must stay linear in the number of tasks.

Time is wall time of an untraced run after a warm-up run; "peak py" is the
`tracemalloc` peak of a traced run after it (Python allocations only). "max RSS" is
`ru_maxrss`: for in-process steps the benchmark's high-water mark so far (so
it includes the store build and tracemalloc's own bookkeeping); for a
`setright` subprocess, that process's own peak.

Not a test: run it by hand (`--quick` for a few-seconds smoke run).

Run: python benchmarks/plan_scale.py [--rows N] [--entries K] [--files F] [--ops M]
                                     [--quick] [--part all|resolutions|redrive]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from issue_list import build as build_audit_log  # noqa: E402  (N rows, K FAILED NON_TX issues)

GITHUB_COMMENT_LIMIT = 65_000
REDRIVE_CHANGE = "inserts"


# -- builders (also used by tests/planner/test_plan_scale.py) -----------------


def write_config(root: Path, *, targets: Sequence[str] = ()) -> Path:
    """`setright.yaml` with the default store and SQLite targets, each with a changes folder."""
    lines = ["version: 1", "store: {url: 'sqlite:///.setright/audit.db'}"]
    if targets:
        lines.append("targets:")
        lines += [f"  {t}: {{url: 'sqlite:///data/{t}.db', changes: changes/{t}}}"
                  for t in targets]
    else:
        lines.append("targets: {}")
    root.mkdir(parents=True, exist_ok=True)
    path = root / "setright.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def build_issue_store(root: Path, rows: int, issues: int) -> Path:
    """The audit store of `issue_list.py`: change-000000 … are FAILED NON_TX issues."""
    db = root / ".setright" / "audit.db"
    build_audit_log(db, rows, issues)
    return db


def issue_change_ids(issues: int) -> list[str]:
    return [f"change-{c:06d}" for c in range(issues)]


def write_resolution_files(root: Path, change_ids: Sequence[str], files: int) -> list[Path]:
    """`files` valid v1 resolution files sharing out `change_ids`, each marking its changes APPLIED."""
    folder = root / "resolutions"
    folder.mkdir(parents=True, exist_ok=True)
    per_file, extra = divmod(len(change_ids), files)
    paths, start = [], 0
    for n in range(files):
        chunk = change_ids[start:start + per_file + (1 if n < extra else 0)]
        start += len(chunk)
        lines = ["version: 1", f"reason: verified batch {n} by hand (bench)",
                 f"ticket: OPS-{n + 1}", "resolutions:"]
        for change_id in chunk:
            lines += [f"  - change: {change_id}", "    resolution: APPLIED",
                      "    expect: FAILED"]
        path = folder / f"r-{n:05d}.yaml"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def insert_statement(n: int, *, failing: bool = False) -> str:
    """Statement `n` of the redrive change; the failing one repeats id 1 (a UNIQUE violation)."""
    return (f"INSERT INTO items (id, name) VALUES (1, 'item-{n}');" if failing
            else f"INSERT INTO items (id, name) VALUES ({n}, 'item-{n}');")


def write_insert_change(root: Path, ops: int, fail_at: int | None) -> Path:
    """One non-transactional change of `ops` one-row INSERTs, failing at `fail_at`."""
    statements = [insert_statement(n, failing=n == fail_at) for n in range(1, ops + 1)]
    path = root / "changes" / "bench" / f"_0001__{REDRIVE_CHANGE}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join(f"  {s}" for s in statements)
    path.write_text(f"id: {REDRIVE_CHANGE}\nauthor: bench\ntransactional: false\n"
                    f"apply: |\n{body}\n")
    return path


def build_failed_apply(root: Path, ops: int, fail_at: int) -> str:
    """A project whose one change failed at operation `fail_at` under the real runner: its apply id."""
    from setright.config import load_config
    from setright.runner.changes import load_all
    from setright.runner.execute import run_targets
    from setright.store import Store

    config_path = write_config(root, targets=["bench"])
    write_insert_change(root, ops, fail_at)
    (root / "data").mkdir(exist_ok=True)
    setup = sqlite3.connect(root / "data" / "bench.db")
    setup.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    setup.commit()
    setup.close()
    config = load_config(config_path)
    store = Store.open(config.store_path, config.audit_table)
    try:
        store.refresh()
        [outcome] = run_targets(store, config, load_all(config), ["bench"], actor="bench")
        assert outcome.apply_state == "failed", outcome
        return outcome.apply_id
    finally:
        store.close()


def write_redrive_file(root: Path, apply_id: str) -> Path:
    path = root / "resolutions" / "redrive.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"version: 1\nreason: items has room for the duplicate now (bench)\n"
                    f"redrives:\n  - apply: {apply_id}\n")
    return path


def edit_statement(root: Path, ops: int, fail_at: int, seq: int) -> str:
    """Rewrite the change file with statement `seq` edited (nothing else): its new text.

    The failing statement gets the fix a human would write (its own id, not 1).
    """
    path = write_insert_change(root, ops, fail_at)
    text = path.read_text()
    old = insert_statement(seq, failing=seq == fail_at)
    new = insert_statement(seq).replace("'item-", "'fixed-")
    assert text.count(f"  {old}\n") == 1
    path.write_text(text.replace(f"  {old}\n", f"  {new}\n"))
    return new


def plan_in(root: Path, paths: Sequence[Path] | None = None):  # type: ignore[no-untyped-def]
    """`plan_project` as `setright plan` calls it, on the project at `root`."""
    from setright.config import load_config
    from setright.planner.project import plan_project
    from setright.store import Store
    from setright.store.locks import default_owner

    config = load_config(root / "setright.yaml")
    store = Store.open(config.store_path, config.audit_table)
    try:
        store.refresh()
        return plan_project(store, config, list(paths) if paths else None, owner=default_owner())
    finally:
        store.close()


def synthetic_plan(actions: int, *, conflicts: int = 0):  # type: ignore[no-untyped-def]
    """A plan of `actions` resolve actions (the first `conflicts` of them conflicts), no store."""
    from setright.planner.model import Action, ActionKind, Guard, Outcome, Plan, ResolutionFileRef

    per_file = 5
    files = [ResolutionFileRef(f"resolutions/r-{n:05d}.yaml", f"sha256:{n:064x}", "bench", None,
                               None) for n in range((actions + per_file - 1) // per_file)]
    out = []
    for n in range(actions):
        change_id = f"change-{n:06d}"
        conflict = n < conflicts
        out.append(Action(
            address=f'resolution.change["{change_id}"]', kind=ActionKind.RESOLVE,
            outcome=Outcome.CONFLICT if conflict else Outcome.CHANGE,
            file=files[n // per_file].path, entry_key=f"resolution:{change_id}",
            before="FAILED", after="FAILED" if conflict else "MANUAL_MARKED_AS_APPLIED",
            guard=Guard("dh1:" + "0" * 64, {"change_id": change_id, "state": "FAILED"}),
            entry={"line": 5 + 3 * (n % per_file), "change": change_id,
                   "resolution": "APPLIED", "expect": ["FAILED"], "ticket": "OPS-1"},
            target="user-db",
            messages=([f"expect guard: change {change_id!r} is FAILED, the entry expects "
                       "STARTED"] if conflict else ["FAILED: failed outside a transaction"])))
    return Plan(plan_id="pl-bench", created_at="2026-01-01T00:00:00.000Z",
                setright_version="bench", deepdiff_version="bench",
                store={"url": "sqlite:///.setright/audit.db", "lineage": "bench", "serial": 0},
                resolution_files=files, actions=out)


def operations_as_dicts(root: Path, apply_id: str) -> tuple[list[dict[str, Any]],
                                                           list[dict[str, Any]]]:
    """(the apply's recorded operations, the change file's operations), all as dicts."""
    from setright.config import load_config
    from setright.runner.changes import load_all
    from setright.store import Store
    from setright.store.applies import operations_of

    config = load_config(root / "setright.yaml")
    store = Store.open(config.store_path, config.audit_table)
    try:
        recorded = [{"seq": op.seq, "statement": op.statement, "hash": op.hash}
                    for op in operations_of(store.conn, apply_id)]
    finally:
        store.close()
    [change] = load_all(config)["bench"]
    in_file = [{"seq": op.seq, "statement": op.statement, "hash": op.hash}
               for op in change.operations]
    return recorded, in_file


def many_task_drift_check(store: Any, config: Any, apply_id: str,
                          tasks: int) -> Callable[[], list[str]]:
    """The redrive's drift check (`explain_mismatch`) for an apply of `tasks` remaining tasks.

    The apply's one task and its fresh-plan change are copied `tasks` times
    under new ids, in the same order with the same checksums: a match, so the
    check returns []. Running every such task for real would take minutes of
    fsyncs; this isolates the comparison of the task list with the fresh plan.
    """
    from dataclasses import replace

    from setright.planner.explain import explain_mismatch
    from setright.runner.changes import load_all
    from setright.runner.fresh_plan import fresh_plan
    from setright.store.applies import find_apply, tasks_of

    store.refresh()
    apply = find_apply(store.conn, apply_id)
    [task] = tasks_of(store.conn, apply_id)
    fresh = fresh_plan(store.conn, load_all(config)["bench"], "bench", root=config.root)
    [planned] = fresh.changes
    ids = [f"bench-{n:06d}" for n in range(tasks)]
    remaining = [replace(task, position=n + 1, change_id=cid, started_at=None)
                 for n, cid in enumerate(ids)]
    many = replace(fresh, changes=tuple(replace(planned, change_id=cid) for cid in ids))

    def check() -> list[str]:
        return explain_mismatch(store.conn, apply, remaining, {}, many, lambda _: ())

    return check


def naive_deepdiff(recorded: list[dict[str, Any]], in_file: list[dict[str, Any]]) -> int:
    """A whole-plan DeepDiff (what a naive implementation would do): how many items differ."""
    from deepdiff import DeepDiff

    diff = DeepDiff(recorded, in_file, view="tree")
    return sum(len(items) for items in diff.values())


# -- measuring ----------------------------------------------------------------


@dataclass
class Row:
    label: str
    seconds: float
    peak_py: int | None       # bytes, tracemalloc
    max_rss: int              # bytes, ru_maxrss
    note: str = ""


def max_rss_bytes(who: int = resource.RUSAGE_SELF) -> int:
    rss = resource.getrusage(who).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB


def measure(rows: list[Row], label: str, fn: Callable[[], Any], *, note: Callable[[Any], str]
            = lambda _: "", traced: bool = True) -> Any:
    """Time `fn` untraced after a warm-up run (imports, compiled schemas, page cache), then run
    it once more under tracemalloc for its peak. Builds (`traced=False`) run once, untraced."""
    if traced:
        fn()
    gc.collect()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    rss = max_rss_bytes()
    peak = None
    if traced:
        del result
        gc.collect()
        tracemalloc.start()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    rows.append(Row(label, seconds, peak, rss, note(result)))
    print(f"  {label:<52} {seconds:9.3f} s", flush=True)
    return result


# Runs a command and reports its own wall time and max RSS. On Linux a child's ru_maxrss
# starts from the RSS of the process it was forked from (exec keeps the high-water mark),
# so the benchmark (hundreds of MiB by then) spawns this small process, which spawns setright.
_CHILD_USAGE = """
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
seconds = time.perf_counter() - start
with open(sys.argv[1], "w") as out:
    out.write(f"{seconds} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def measure_process(rows: list[Row], label: str, cmd: list[str], cwd: Path, *,
                    exit_codes: tuple[int, ...] = (0,)) -> bytes:
    """A whole `setright` process: its wall time and its own max RSS."""
    env = {**os.environ, "NO_COLOR": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        usage_file = Path(tmp) / "usage"
        proc = subprocess.run([sys.executable, "-c", _CHILD_USAGE, str(usage_file), *cmd],
                              cwd=cwd, env=env, capture_output=True, check=False)
        seconds_text, rss_text, code_text = usage_file.read_text().split()
    if int(code_text) not in exit_codes:
        raise SystemExit(f"{' '.join(cmd)} exited {code_text}: {proc.stderr.decode()}")
    rss = int(rss_text) * (1 if sys.platform == "darwin" else 1024)   # Linux reports KiB
    seconds = float(seconds_text)
    rows.append(Row(label, seconds, None, rss, f"{len(proc.stdout):,} bytes of JSON"))
    print(f"  {label:<52} {seconds:9.3f} s", flush=True)
    return proc.stdout


def mib(n: int | None) -> str:
    return "" if n is None else f"{n / 2**20:,.1f} MiB"


def print_table(title: str, rows: list[Row]) -> None:
    print(f"\n### {title}\n")
    print("| step | time | peak py (tracemalloc) | max RSS (so far; process: own) | note |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r.label} | {r.seconds:,.3f} s | {mib(r.peak_py)} | {mib(r.max_rss)} | "
              f"{r.note} |")


# -- the two parts ------------------------------------------------------------


def bench_resolutions(tmp: Path, rows_n: int, entries: int, files: int) -> list[Row]:
    from setright.config import load_config
    from setright.render.plan import plan_json, plan_markdown, plan_text
    from setright.render.style import Style, to_json
    from setright.resolutions.checks import check_files
    from setright.resolutions.files import read_resolution_files
    from setright.store import Store
    from setright.store.ledger import read_ledger

    root = tmp / "resolutions-project"
    write_config(root)
    rows: list[Row] = []
    print(f"part 1: {rows_n:,} audit rows, {entries:,} issues, {entries:,} entries in "
          f"{files:,} files", flush=True)
    measure(rows, f"build: {rows_n:,} audit rows (executemany)",
            lambda: build_issue_store(root, rows_n, entries), traced=False)
    measure(rows, f"build: {entries:,} entries in {files:,} files",
            lambda: write_resolution_files(root, issue_change_ids(entries), files), traced=False)
    config = load_config(root / "setright.yaml")
    store = Store.open(config.store_path, config.audit_table)
    measure(rows, "build: first fold of the log (once per store)", store.refresh, traced=False)

    def load_and_check() -> Any:
        loaded = read_resolution_files(config.resolutions, config.root)
        checked = check_files(loaded.files, config=config, ledger=read_ledger(store.conn))
        assert not loaded.problems and not checked.errors, (loaded.problems, checked.errors)
        return loaded, checked

    measure(rows, "load + check the resolution files", load_and_check,
            note=lambda r: f"{sum(len(f.entries) for f in r[0].files):,} entries")
    plan = measure(rows, "plan_project (end to end)", lambda: plan_in(root),
                   note=lambda p: ", ".join(f"{v:,} {k}" for k, v in p.summary.items()))
    assert plan.summary["resolve"] == entries and not plan.errored, plan.summary
    measure(rows, "render: text", lambda: plan_text(plan, Style(ascii=False)),
            note=lambda t: f"{len(t):,} chars")
    markdown = measure(rows, "render: markdown", lambda: plan_markdown(plan),
                       note=lambda t: f"{len(t):,} chars")
    measure(rows, "render: json", lambda: to_json(plan_json(plan)),
            note=lambda t: f"{len(t):,} chars")
    store.close()
    measure_process(rows, "setright plan --format json (whole process)",
                    [sys.executable, "-m", "setright", "plan", "--format", "json"], root)
    left_out = " ".join(ln.strip("_") for ln in markdown.splitlines() if "not shown" in ln)
    print(f"  markdown: {len(markdown):,} chars for {entries:,} entries "
          f"(limit {GITHUB_COMMENT_LIMIT:,}); {left_out or 'nothing left out'}")
    assert len(markdown) < GITHUB_COMMENT_LIMIT
    return rows


def bench_redrive(tmp: Path, ops: int, fail_at: int) -> list[Row]:
    from setright.config import load_config
    from setright.store import Store

    root = tmp / "redrive-project"
    rows: list[Row] = []
    print(f"part 2: one NON_TX change of {ops:,} INSERTs failing at operation {fail_at:,}",
          flush=True)
    apply_id = measure(rows, f"build: setright run ({fail_at - 1:,} ops commit, 1 fails)",
                       lambda: build_failed_apply(root, ops, fail_at), traced=False)
    redrive = write_redrive_file(root, apply_id)

    def verdict(plan: Any) -> str:
        [action] = plan.actions
        return f"{action.outcome}: " + " / ".join(m.strip() for m in action.messages)

    plan = measure(rows, "plan redrive: exact match (accepted)", lambda: plan_in(root, [redrive]),
                   note=verdict)
    assert plan.actions[0].outcome == "change", verdict(plan)
    recorded, in_file = operations_as_dicts(root, apply_id)
    measure(rows, f"naive DeepDiff of all {ops:,} operations (same)",
            lambda: naive_deepdiff(recorded, in_file), note=lambda n: f"{n} differences")
    measure_process(rows, "setright plan --format json (whole process)",
                    [sys.executable, "-m", "setright", "plan", "--format", "json"], root)
    config = load_config(root / "setright.yaml")
    store = Store.open(config.store_path, config.audit_table)
    measure(rows, f"drift check alone, {ops:,} one-op tasks (synthetic)",
            many_task_drift_check(store, config, apply_id, ops),
            note=lambda lines: f"{len(lines)} differences")
    store.close()

    edited = fail_at
    edit_statement(root, ops, fail_at, edited)
    plan = measure(rows, f"plan redrive: statement {edited:,} edited (refused)",
                   lambda: plan_in(root, [redrive]), note=verdict)
    assert plan.actions[0].outcome == "conflict", verdict(plan)
    recorded, in_file = operations_as_dicts(root, apply_id)
    measure(rows, f"naive DeepDiff of all {ops:,} operations (1 edited)",
            lambda: naive_deepdiff(recorded, in_file), note=lambda n: f"{n} differences")
    measure_process(rows, "setright plan --format json (whole process, refused)",
                    [sys.executable, "-m", "setright", "plan", "--format", "json"], root,
                    exit_codes=(1,))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="audit rows (part 1)")
    parser.add_argument("--entries", type=int, default=10_000, help="resolution entries (part 1)")
    parser.add_argument("--files", type=int, default=2_000, help="resolution files (part 1)")
    parser.add_argument("--ops", type=int, default=10_000, help="operations of the redrive")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (20,000 rows, 200 entries, 40 files, 200 ops)")
    parser.add_argument("--part", choices=["all", "resolutions", "redrive"], default="all")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.entries, args.files, args.ops = 20_000, 200, 40, 200
    if args.entries * 10 > args.rows or args.files > args.entries:
        parser.error("need --rows >= 10 x --entries and --files <= --entries")
    fail_at = max(1, args.ops * 9 // 10)
    import deepdiff

    print(f"python {sys.version.split()[0]}, deepdiff {deepdiff.__version__}, "
          f"sqlite {sqlite3.sqlite_version}")
    with tempfile.TemporaryDirectory(prefix="setright-bench-") as tmp:
        tables = []
        if args.part in ("all", "resolutions"):
            tables.append((f"plan: {args.entries:,} entries in {args.files:,} files, "
                           f"{args.rows:,} audit rows",
                           bench_resolutions(Path(tmp), args.rows, args.entries, args.files)))
        if args.part in ("all", "redrive"):
            tables.append((f"redrive of an apply with {args.ops:,} operations "
                           f"(failed at {fail_at:,})", bench_redrive(Path(tmp), args.ops, fail_at)))
    for title, rows in tables:
        print_table(title, rows)


if __name__ == "__main__":
    main()
