"""fuzz_resolution: generated resolution files through `validate` and `apply`."""

from __future__ import annotations

from core import Context, rng_for
from fuzzing import Command, fuzz_files
from gen import generate

MINIMUM = 2000
WHERE = "resolutions/2026-11-23-fuzzed.yaml"
COMMANDS = (Command(("validate",), error_first=False),
            Command(("apply", "--auto-approve", "--allow-dirty"), error_first=True,
                    writes_on_success=True))


def run(ctx: Context) -> None:
    from hostilehelp import base_project
    from test_hostile_inputs import GOOD, RESOLUTION_CASES

    template = ctx.work / "template"
    base_project(template)
    redrive = GOOD + "redrives:\n  - apply: ap-01JD0000000000000000000000\n    force: false\n"
    corpus = [c.content for c in RESOLUTION_CASES if c.content is not None]
    fuzz_files(ctx, template=template, where=WHERE, commands=COMMANDS, minimum=MINIMUM,
               generate=lambda i: generate(rng_for(ctx.seed, ctx.name, i), [GOOD, redrive],
                                           corpus))
