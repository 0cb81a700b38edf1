"""fuzz_config: generated `setright.yaml` files through readers and `run`."""

from __future__ import annotations

from core import Context, rng_for
from fuzzing import Command, fuzz_files
from gen import generate

MINIMUM = 500
COMMANDS = (Command(("validate",), error_first=False), Command(("status",), error_first=False),
            Command(("plan",), error_first=False), Command(("issue", "list"), error_first=False),
            Command(("run",), error_first=True, writes_on_success=True))


def run(ctx: Context) -> None:
    from fuzz_change import ran_and_failed
    from hostilehelp import base_project
    from test_hostile_inputs import CONFIG, CONFIG_CASES

    root = ctx.work / "template"
    base_project(root)
    (root / "setright.yaml").write_text(CONFIG)
    corpus = [c.content for c in CONFIG_CASES if c.content is not None]
    fuzz_files(ctx, template=root, where="setright.yaml", commands=COMMANDS, minimum=MINIMUM,
               accepted=ran_and_failed,
               generate=lambda i: generate(rng_for(ctx.seed, ctx.name, i), [CONFIG], corpus))
