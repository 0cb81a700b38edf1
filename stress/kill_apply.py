"""kill_apply: SIGKILL `setright apply PLAN` at random instants.

The project and plan are fuzz_plan's (a mark, a satisfied entry, a redrive).
`SETRIGHT_APPLY_PAUSE` stretches the window inside the write transaction so
kills land there too. After the kill, both files pass `PRAGMA integrity_check`
and the state and target tables are exactly as before the apply or exactly as
after an uninterrupted one (generated ids and times masked: another process,
another instant). Then `apply PLAN` again, with a clock past the dead
process's locks: from "before" it applies and ends "after"; from "after" it
refuses and writes nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from core import Context, integrity, on_timeline, project_state, rng_for, shown, spawn, timeless
from core import differing, timeline
from fuzz_plan import PLAN, template
from killing import kill_at, timed_full_run

MINIMUM = 100
PAUSE = "0.05"
#: Lock rows are bookkeeping taken before the write transaction: a killed apply leaves its
#: `setright:apply` and target locks to expire, which is what locks with expiry are for.
SKIP = ("setright_locks",)


def reapply(root: Path) -> Any:
    from hostilehelp import _adopt
    from setright.timeutil import FixedClock

    clock = FixedClock(timeline() + 3_600_000)  # past every lock the dead process held
    return _adopt(root).cli("apply", str(root / PLAN), clock=clock)


def run(ctx: Context) -> None:
    base = ctx.work / "template"
    template(base)
    before = timeless(project_state(base, files=False, skip=SKIP))
    probe = ctx.work / "probe"
    shutil.copytree(base, probe)
    longest = timed_full_run(probe, "apply", PLAN, SETRIGHT_APPLY_PAUSE=PAUSE, **on_timeline()) * 1.1
    after = timeless(project_state(probe, files=False, skip=SKIP))
    shutil.rmtree(probe)
    ends = {"before": 0, "after": 0}
    for index in ctx.indexes(MINIMUM):
        rng = rng_for(ctx.seed, ctx.name, index)
        root = ctx.work / f"t{index}"
        shutil.copytree(base, root)
        proc = spawn(root, "apply", PLAN, SETRIGHT_APPLY_PAUSE=PAUSE, **on_timeline())
        detail: dict[str, Any] = {"case": index, "reproduce": ctx.repro(index),
                                  "kill": f"SIGKILL after {kill_at(proc, rng, longest, late=index % 2 == 1):.3f}s",
                                  "exit": proc.returncode}
        problem = integrity(root / ".setright" / "audit.db") or integrity(root / "data" / "app.db")
        state = timeless(project_state(root, files=False, skip=SKIP))
        end = "before" if state == before else "after" if state == after else None
        if problem is None and end is None:
            problem = "STATE neither before nor after"
            detail["differs_from_before"] = differing(before, state)
            detail["differs_from_after"] = differing(after, state)
        if problem is None:
            ends[end] += 1
            again = reapply(root)
            detail["reapply"] = f"{again.exit_code}: {shown(again.output, 800)}"
            final = timeless(project_state(root, files=False, skip=SKIP))
            if "internal error" in again.output or "Traceback" in again.output:
                problem = "REAPPLY internal error or traceback"
            elif end == "before" and (again.exit_code != 0 or final != after):
                problem = "REAPPLY from before did not end after"
            elif end == "after" and (again.exit_code != 1 or final != after):
                problem = "REAPPLY from after was not refused untouched"
        ctx.result.record(problem, lambda detail=detail: detail)
        shutil.rmtree(root, ignore_errors=True)
    ctx.result.notes.append(f"kills spread over {longest:.1f}s; {ends['before']} ended before,"
                            f" {ends['after']} after")
