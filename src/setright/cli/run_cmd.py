"""`setright run`: run pending changes against each target, with live progress."""

from __future__ import annotations

from typing import Any

import click


@click.command()
@click.option("-t", "--target", "targets", multiple=True, metavar="TARGET",
              help="Run only this target (repeatable; default: every target).")
@click.option("--max-attempts", type=click.IntRange(min=1, max=1000), metavar="N",
              help="Executions a new apply may take before it is failed (default: run.max_attempts).")
@click.pass_obj
def run(app, targets: tuple[str, ...], max_attempts: int | None) -> int:  # type: ignore[no-untyped-def]
    """Run pending changes against each target, holding the target's lock.

    Reaps applies whose runner was lost, refuses edited applied changes and
    blocked targets, resumes a retryable apply, then runs pending changes and
    retries until the retry budget is spent. Exit status 0 when every target
    completed or had nothing to do, 1 otherwise.

    Progress: on a terminal (unless TERM=dumb) a live line shows which
    operation of which change is running and for how long; otherwise a "still
    running" line is printed every 10 seconds of one operation.

    Test hooks: SETRIGHT_FAULT=crash-after:CHANGE_ID:K kills the runner right
    after operation K of that change commits (stop-after:… pauses it instead;
    crash-before-marker:… kills it after the statement ran, before its marker);
    SETRIGHT_PROGRESS_INTERVAL=SECONDS sets the "still running" interval.
    """
    import os
    import sys

    from setright.cli import screen_terminal
    from setright.cli.app import no_cyclic_gc
    from setright.cli.progress import ProgressPrinter, plain_interval
    from setright.errors import ConfigError
    from setright.render.run import run_summary
    from setright.runner.changes import load_all
    from setright.runner.execute import refuse_targets_run_elsewhere, run_targets
    from setright.runner.fault import Fault
    from setright.runner.options import RunOptions

    config = app.config()
    unknown = [t for t in targets if t not in config.targets]
    if unknown:
        known = ", ".join(config.targets) or "none"
        raise ConfigError(f"unknown target {unknown[0]!r}", [f"targets in setright.yaml: {known}"])
    names = list(dict.fromkeys(targets)) or list(config.targets)
    if not names:
        raise ConfigError("no targets in setright.yaml", ["add one under 'targets:'"])
    fault = Fault.from_env(os.environ)
    warnings: list[Any] = []
    # Thousands of acyclic changes, operations and documents, then rows and statements
    # per change: cycles are made only once, by the runner's own objects.
    with no_cyclic_gc():
        changes = load_all(config, warnings)
        for warning in warnings:
            click.echo(f"Warning: {warning}", err=True)
        if not app.store_exists():
            refuse_targets_run_elsewhere(config, names, config.store.where)
        store = app.writer(create=True)
        printer = ProgressPrinter(app.style, terminal=screen_terminal(sys.stdout),
                                  interval=plain_interval(os.environ))
        try:
            outcomes = run_targets(store, config, changes, names, actor=app.actor(),
                                   options=RunOptions(max_attempts=max_attempts, fault=fault),
                                   observer=printer)
        finally:
            printer.close()
    click.echo(run_summary([o.as_dict() for o in outcomes], app.style))
    return 0 if all(o.ok for o in outcomes) else 1
