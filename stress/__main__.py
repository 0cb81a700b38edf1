"""`python -m stress`: run the categories, write stress-report.json, print the table.

    STRESS_SCALE=0.1 python -m stress            # every count scaled (at least 1 each)
    python -m stress --only fuzz_config --seed 7 --case 42   # reproduce one input
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress")
    parser.add_argument("--only", action="append", choices=CATEGORIES)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("STRESS_SEED", "0"))
                        or int(time.time()) % 100_000)
    parser.add_argument("--scale", type=float, default=float(os.environ.get("STRESS_SCALE", "1")))
    parser.add_argument("--case", type=int, help="run only this input or trial (with --only)")
    parser.add_argument("--report", type=Path, default=ROOT / "stress-report.json")
    args = parser.parse_args(argv)
    names = args.only or list(CATEGORIES)
    print(f"stress: seed {args.seed}, scale {args.scale}", flush=True)
    report: dict = {"seed": args.seed, "scale": args.scale, "command": " ".join(
        ["python -m stress", *sys.argv[1:]]), "categories": {}}
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
