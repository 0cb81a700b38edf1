"""concurrent_apply: N processes apply one saved plan, or `audit fix` one change, at once.

All N wait at the store's write lock (storehelp.write_gate) and start together;
`SETRIGHT_APPLY_PAUSE` keeps each write transaction open a little. Exactly one
writes: the state tables end exactly as one uninterrupted apply leaves them
(one mark, one ledger row per entry), and every loser's message is true of the
store it saw: a plan loser says the plan is stale because the entries it names
moved to the states the winner wrote (or that the apply lock is held); an
`audit fix` loser says the change is already in the state the winner wrote.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from core import (Context, finish, on_timeline, project_state, rng_for, shown, spawn,
                  timeless)
from fuzz_plan import PLAN, template
from fuzzing import error_first

MINIMUM = 20
PAUSE = "0.05"
SKIP = ("setright_locks",)
MARKED = "MANUAL_MARKED_AS_ROLLED_BACK"
FIX = ("audit", "fix", "-c", "loose", "-r", "ROLLED_BACK", "--reason", "r", "--yes")


def race(root: Path, args: tuple[str, ...], n: int) -> tuple[list[tuple[int, str, str]],
                                                              set[int]]:
    from storehelp import write_gate

    with write_gate(root / ".setright" / "audit.db"):
        procs = [spawn(root, *args, SETRIGHT_APPLY_PAUSE=PAUSE, **on_timeline())
                 for _ in range(n)]
        time.sleep(1.0 + 0.3 * n)  # every process started and waiting at the gate
    return [finish(p) for p in procs], {p.pid for p in procs}


def ledger_keys(root: Path) -> set[str]:
    conn = sqlite3.connect(root / ".setright" / "audit.db")
    try:
        return {r[0] for r in conn.execute("SELECT entry_key FROM setright_ledger")}
    finally:
        conn.close()


def marks(root: Path) -> int:
    conn = sqlite3.connect(root / ".setright" / "audit.db")
    try:
        return conn.execute("SELECT count(*) FROM setright_audit_log WHERE change_id = 'loose'"
                            " AND state = ?", (MARKED,)).fetchone()[0]
    finally:
        conn.close()


_IN_LEDGER = re.compile(r'(resolution\.change|redrive\.apply)\["([^"]+)"\] \([^)]*\) is already'
                        r" in the ledger")
_WHO = re.compile(r"Who:\s+\S+@\S+:(\d+)")


def plan_loser_is_true(code: int, out: str, err: str, root: Path, pids: set[int]) -> bool:
    """A stale plan names only entries the ledger now holds (or moves to the states the
    winner wrote); a lock refusal names a process of this race as the holder."""
    if code != 1 or not error_first(err) or "internal error" in out + err:
        return False
    if "Saved plan is stale" in err:
        named = [("resolution:" if kind == "resolution.change" else "redrive:") + key
                 for kind, key in _IN_LEDGER.findall(err)]
        moved = [ln for ln in err.splitlines() if "→" in ln]
        return bool(named or moved) and set(named) <= ledger_keys(root) and all(
            f"already {MARKED}" in ln or "failed_retryable" in ln for ln in moved)
    holder = _WHO.search(err)
    return "setright:apply is locked" in err and holder is not None and int(
        holder.group(1)) in pids


def fix_loser_is_true(code: int, out: str, err: str) -> bool:
    return (code, err) == (0, "") and out.endswith(
        f"Nothing to do: change 'loose' is already {MARKED}.\n")


def run(ctx: Context) -> None:
    base = ctx.work / "template"
    template(base)
    reference = ctx.work / "reference"
    shutil.copytree(base, reference)
    done = finish(spawn(reference, "apply", PLAN, **on_timeline()))
    assert done[0] == 0, done
    after_plan = timeless(project_state(reference, files=False, skip=SKIP))
    kinds = {"apply": 0, "audit fix": 0}
    for index in ctx.indexes(MINIMUM):
        rng = rng_for(ctx.seed, ctx.name, index)
        n = rng.choice([3, 4, 5])
        root = ctx.work / f"t{index}"
        shutil.copytree(base, root)
        plan = index % 2 == 0
        args = ("apply", PLAN) if plan else FIX
        results, pids = race(root, args, n)
        kinds["apply" if plan else "audit fix"] += 1
        detail: dict[str, Any] = {"case": index, "reproduce": ctx.repro(index),
                                  "command": " ".join(args), "processes": n,
                                  "results": [(c, shown(o, 400), shown(e, 600))
                                              for c, o, e in results]}
        problem = None
        if any("internal error" in o + e or "Traceback" in o + e for _, o, e in results):
            problem = "INTERNAL-OR-TRACEBACK"
        elif plan:
            winners = [r for r in results if r[0] == 0 and "Apply complete!" in r[1]]
            state = timeless(project_state(root, files=False, skip=SKIP))
            if len(winners) != 1:
                problem = f"WINNERS {len(winners)}"
            elif state != after_plan:
                problem = "STATE not exactly one apply's"
            elif not all(plan_loser_is_true(*r, root, pids) for r in results
                         if r is not winners[0]):
                problem = "LOSER-MESSAGE untrue"
        else:
            winners = [r for r in results if r[0] == 0 and "Fix complete!" in r[1]]
            if len(winners) != 1:
                problem = f"WINNERS {len(winners)}"
            elif marks(root) != 1:
                problem = f"MARKS {marks(root)}"
            elif not all(fix_loser_is_true(*r) for r in results if r is not winners[0]):
                problem = "LOSER-MESSAGE untrue"
        ctx.result.record(problem, lambda detail=detail: detail)
        shutil.rmtree(root, ignore_errors=True)
    ctx.result.notes.append(f"{kinds['apply']} races of `apply PLAN`, {kinds['audit fix']} of"
                            " `audit fix`, 3–5 processes each")
