"""fuzz_change: generated change files through `status` and `run`.

The template's store has history (an applied change, a failure resolved by a
committed file, a ledger row) and nothing pending, so a generated file that is
valid runs on its own: `run` then exits 0, or 1 with the failure recorded
(a statement that fails at run time is not a refusal).
"""

from __future__ import annotations

from pathlib import Path

from core import Context, rng_for
from fuzzing import Command, Outcome, fuzz_files
from gen import generate

MINIMUM = 1000
WHERE = "changes/app/_0005__fuzzed.yaml"
COMMANDS = (Command(("status",), error_first=False),
            Command(("run",), error_first=True, writes_on_success=True))


def template(root: Path) -> None:
    """seed APPLIED; broken FAILED, then marked APPLIED by a committed resolution file."""
    from runhelp import Project
    from setright.timeutil import FixedClock
    from storehelp import T0

    clock = FixedClock(T0)
    project = Project(root)
    project.change("_0001__seed", apply="CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);")
    project.change("_0002__broken", transactional=False,
                   apply="INSERT INTO t VALUES (1, 'a');\nINSERT INTO missing VALUES (1);")
    store = project.open_store(clock)
    project.run(store)
    store.close()
    (root / "resolutions").mkdir()
    (root / "resolutions" / "2026-11-22-broken.yaml").write_text(
        "version: 1\nreason: finished by hand\nresolutions:\n"
        "  - {change: broken, resolution: APPLIED}\n")
    applied = project.cli("apply", "--auto-approve", "--allow-dirty", clock=clock)
    assert applied.exit_code == 0, applied.output


def ran_and_failed(got: Outcome) -> bool:
    """`run` executed a valid file whose statement failed: recorded, reported on stdout."""
    return got.stderr == "" and "failed change:" in got.stdout


def run(ctx: Context) -> None:
    from test_hostile_changes import CHANGE_CASES, GOOD, STEPS

    root = ctx.work / "template"
    template(root)
    corpus = [c.content for c in CHANGE_CASES if c.content is not None]
    fuzz_files(ctx, template=root, where=WHERE, commands=COMMANDS, minimum=MINIMUM,
               accepted=ran_and_failed,
               generate=lambda i: generate(rng_for(ctx.seed, ctx.name, i), [GOOD, STEPS],
                                           corpus))
