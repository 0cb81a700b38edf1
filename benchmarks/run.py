"""`make bench`: every hot path of setright beside its floor, whole processes, interleaved.

Per row: setright's median, the floor's median (`floors.py`, timed in the same
run, alternating with setright), the ratio and the goal. Environment:

* `BENCH_SCALE` (default 1): shrink every size (0.01 for a quick try);
* `BENCH_REPEAT` (default 3): timed runs of each side per row;
* `BENCH_WARMUP` (default 1): one untimed run of each side first (0: none);
* `BENCH_ONLY`: comma-separated row keys (see `--list`);
* `BENCH_POSTGRES` / `BENCH_MYSQL`: admin URLs of the servers for the
  `@postgresql` / `@mysql` rows (default: the local servers).

Rows whose store is a server build their data in a fresh, randomly named
database and drop it afterwards; where the server cannot be reached, they print
"skipped: …" instead. Speed is never asserted in the
test suite; `tests/test_bench.py` runs this at a tiny scale so it cannot rot.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import Pair, interleave, ratio_text, run_process, seconds_text  # noqa: E402
from rows import ROWS, Row, Sizes, Skip  # noqa: E402


@dataclass
class Result:
    row: Row
    pair: Pair | None = None
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)
    part: tuple[str, float] | None = None   # `Case.part`'s label and median


# -- running and printing ------------------------------------------------------------------


def run_row(row: Row, sizes: Sizes, tmp: Path, repeat: int, warmup: bool) -> Result:
    root = tmp / row.key.replace("@", "-") / "project"
    root.mkdir(parents=True)
    with ExitStack() as stack:
        try:
            case = row.setup(root, sizes, stack)
        except Skip as exc:
            return Result(row, skipped=str(exc))
        pair = interleave(case.ours, case.floor, repeat, prepare=case.prepare, check=case.check,
                          warmup=warmup)
        part = None
        if case.part is not None:
            label, command = case.part
            part = (label, statistics.median(run_process(command).seconds
                                             for _ in range(repeat)))
    shutil.rmtree(root.parent, ignore_errors=True)
    return Result(row, pair, part=part)


def table(results: list[Result], sizes: Sizes) -> str:
    lines = ["| measure | setright | floor | floor is | ratio | goal | met |",
             "|---|---:|---:|---|---:|---|---|"]
    for r in results:
        label = r.row.measure.format(**sizes.__dict__)
        if r.pair is None:
            lines.append(f"| {label} | | | {r.row.floor} | | {r.row.goal.text} | "
                         f"skipped: {r.skipped} |")
            continue
        ours, floor = r.pair.ours_median, r.pair.floor_median
        met = {True: "yes", False: "no", None: "—"}[r.row.goal.met(ours, floor)]
        lines.append(f"| {label} | {seconds_text(ours)} | {seconds_text(floor)} | {r.row.floor}"
                     f" | {ratio_text(ours, floor)} | {r.row.goal.text} | {met} |")
        if r.part is not None:
            label, seconds = r.part
            lines.append(f"| {label} | {seconds_text(seconds)} | | | "
                         f"{ratio_text(seconds, floor)} | | |")
        if r.row.memory is not None:
            rss = r.pair.rss_median
            lines.append(f"| peak RSS of the row above | {rss / 2**20:.0f} MiB | | | | "
                         f"{r.row.memory.text} | {'yes' if r.row.memory.met(rss) else 'no'} |")
    return "\n".join(lines)


def _byte_compile() -> None:
    """Byte-compile setright as an installed copy is (pip compiles what it installs, as it
    did click and yaml for the floors): under PYTHONDONTWRITEBYTECODE nothing else would,
    and every timed run would include compiling setright's sources."""
    import compileall

    import setright

    compileall.compile_dir(Path(setright.__file__).parent, quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print the row keys and exit")
    parser.add_argument("--readme", type=Path,
                        help="also write the table between the bench markers of this README")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(r.key for r in ROWS))
        return 0
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    if not 0 < scale <= 1:
        parser.error("BENCH_SCALE must be in (0, 1]: it shrinks the sizes of the issue")
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    warmup = os.environ.get("BENCH_WARMUP", "1") != "0"
    only = [k for k in os.environ.get("BENCH_ONLY", "").split(",") if k]
    unknown = set(only) - {r.key for r in ROWS}
    if unknown:
        parser.error(f"unknown rows in BENCH_ONLY: {', '.join(sorted(unknown))}")
    sizes = Sizes.scaled(scale)
    import sqlite3

    import deepdiff
    import yaml

    heading = (f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, deepdiff "
               f"{deepdiff.__version__}, libyaml {yaml.__with_libyaml__}, {os.cpu_count()} "
               f"CPUs, scale {scale}, median of {repeat} interleaved runs")
    print(heading, flush=True)
    _byte_compile()
    results = []
    with tempfile.TemporaryDirectory(prefix="setright-bench-") as tmp:
        # the validation cache of every measured process: the bench's own, never the user's
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        for row in ROWS:
            if only and row.key not in only:
                continue
            print(f"  {row.key} …", flush=True)
            results.append(run_row(row, sizes, Path(tmp), repeat, warmup))
    print()
    print(table(results, sizes))
    if args.readme:
        write_readme(args.readme, f"`make bench` ({heading}):\n\n{table(results, sizes)}\n")
    return 0


BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def write_readme(path: Path, block: str) -> None:
    """Replace what stands between the README's bench markers (the latest measured table)."""
    text = path.read_text(encoding="utf-8")
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise SystemExit(f"bench: {path} has no {BEGIN} … {END} section")
    path.write_text(f"{head}{BEGIN}\n\n{block}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
