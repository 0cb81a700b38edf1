"""`python -m stress`: run the categories, write stress-report.json, print the table.

    STRESS_SCALE=0.1 python -m stress            # every count scaled (at least 1 each)
    python -m stress --only fuzz_config --seed 7 --case 42   # reproduce one input
    python -m stress --readme README.md          # copy the report's figures into the README
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from core import ROOT, Context, Result  # noqa: E402

#: In order; concurrent_run last and alone, because it loads every core.
CATEGORIES = ("fuzz_resolution", "fuzz_change", "fuzz_config", "fuzz_plan", "kill_run",
              "kill_apply", "concurrent_apply", "concurrent_run")


def machine() -> str:
    """Cores and load when the run began: the figures' seconds depend on both."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} cores, load average {load:.1f} at the start"


def table(report: dict) -> str:
    rows = [("category", "tried", "failed", "seconds")]
    for name, data in report["categories"].items():
        rows.append((name, str(data["tried"]), str(data["failed"]), f"{data['seconds']:.0f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                               for i, c in enumerate(row)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    for name, data in report["categories"].items():
        for note in data.get("notes", []):
            lines.append(f"{name}: {note}")
        for example in data["examples"][:3]:
            lines.append(f"{name} FAILED: {example['problem']} — {example.get('reproduce', '')}")
    return "\n".join(lines)


README_BEGIN, README_END = "<!-- stress:begin -->", "<!-- stress:end -->"


def readme_block(report: dict) -> str:
    """The README's figures: the report as a Markdown table, with the command behind it."""
    lines = [README_BEGIN, "", f"`{report['command']}` (seed {report['seed']}, scale"
             f" {report['scale']}) took {report['seconds'] / 60:.0f} minutes"
             f" ({report.get('machine', 'this machine')}):", "",
             "| category | tried | failed |", "|---|---:|---:|"]
    for name, data in report["categories"].items():
        lines.append(f"| `{name}` | {data['tried']:,} | {data['failed']} |")
    notes = [f"* {name}: {note}" for name, data in report["categories"].items()
             for note in data.get("notes", [])]
    return "\n".join([*lines, "", *notes, "", README_END])


def write_readme(path: Path, report: dict) -> None:
    text = path.read_text()
    start, end = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    path.write_text(text[:start] + readme_block(report) + text[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress")
    parser.add_argument("--only", action="append", choices=CATEGORIES)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("STRESS_SEED", "0"))
                        or int(time.time()) % 100_000)
    parser.add_argument("--scale", type=float, default=float(os.environ.get("STRESS_SCALE", "1")))
    parser.add_argument("--case", type=int, help="run only this input or trial (with --only)")
    parser.add_argument("--report", type=Path, default=ROOT / "stress-report.json")
    parser.add_argument("--readme", type=Path,
                        help="only copy the figures of --report into this README's section")
    args = parser.parse_args(argv)
    if args.readme:
        write_readme(args.readme, json.loads(args.report.read_text()))
        return 0
    names = args.only or list(CATEGORIES)
    print(f"stress: seed {args.seed}, scale {args.scale}", flush=True)
    report: dict = {"seed": args.seed, "scale": args.scale, "command": " ".join(
        ["python -m stress", *sys.argv[1:]]), "machine": machine(), "categories": {}}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="setright-stress-") as scratch:
        for name in names:
            result = Result()
            work = Path(scratch) / name
            work.mkdir()
            ctx = Context(name, args.seed, args.scale, work, result, args.case)
            begin = time.monotonic()
            print(f"stress: {name} …", flush=True)
            try:
                importlib.import_module(name).run(ctx)
            except Exception as exc:  # the harness itself broke: a failure, never a pass
                import traceback
                result.failed += 1
                result.examples.append({"problem": f"HARNESS {type(exc).__name__}: {exc}",
                                        "traceback": traceback.format_exc()[-3000:]})
            result.seconds = time.monotonic() - begin
            report["categories"][name] = result.as_dict()
            print(f"stress: {name}: tried {result.tried}, failed {result.failed}"
                  f" ({result.seconds:.0f}s)", flush=True)
            shutil.rmtree(work, ignore_errors=True)
            args.report.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    report["seconds"] = round(time.monotonic() - started, 1)
    args.report.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(table(report))
    print(f"stress: {report['seconds']:.0f}s, report in {args.report}")
    return 1 if any(d["failed"] for d in report["categories"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
