"""fuzz_config: generated `setright.yaml` files through readers and `run`."""

from __future__ import annotations

from core import Context, rng_for
from fuzzing import Command, Outcome, fuzz_files
from gen import generate

MINIMUM = 500
COMMANDS = (Command(("validate",), error_first=False), Command(("status",), error_first=False),
            Command(("plan",), error_first=False), Command(("issue", "list"), error_first=False),
            Command(("run",), error_first=True, writes_on_success=True))


def ran_or_refused(got: Outcome) -> bool:
    """`run` of a valid file: a change failed, or a target was refused when the run reached
    it (say its URL now names a database that does not exist though changes were applied
    to it), as the run's summary reports on stdout, naming the line of setright.yaml."""
    from fuzz_change import ran_and_failed

    return ran_and_failed(got) or (got.stderr == "" and "did not complete" in got.stdout
                                   and "setright.yaml:" in got.stdout)


def run(ctx: Context) -> None:
    from hostilehelp import base_project
    from test_hostile_inputs import CONFIG, CONFIG_CASES

    root = ctx.work / "template"
    base_project(root)
    (root / "setright.yaml").write_text(CONFIG)
    corpus = [c.content for c in CONFIG_CASES if c.content is not None]
    fuzz_files(ctx, template=root, where="setright.yaml", commands=COMMANDS, minimum=MINIMUM,
               accepted=ran_or_refused,
               generate=lambda i: generate(rng_for(ctx.seed, ctx.name, i), [CONFIG], corpus))
