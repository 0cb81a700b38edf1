"""`setright run`: apply pending changes to each target (DESIGN §5.2)."""

from __future__ import annotations

from typing import Any

import click


@click.command()
@click.option("-t", "--target", "targets", multiple=True, metavar="TARGET",
              help="Run only this target (repeatable; default: every target).")
@click.option("--max-attempts", type=click.IntRange(min=1), metavar="N",
              help="Executions a new apply may take before it is failed (default: run.max_attempts).")
@click.pass_obj
def run(app, targets: tuple[str, ...], max_attempts: int | None) -> int:  # type: ignore[no-untyped-def]
    """Apply pending changes, target by target, holding each target's lock.

    Reaps applies whose runner was lost, refuses edited applied changes and
    blocked targets, resumes a retryable apply, then runs pending changes and
    retries until the retry budget is spent. Exit status 0 when every target
    completed or had nothing to do, 1 otherwise.

    Test hook: SETRIGHT_FAULT=crash-after:CHANGE_ID:K kills the runner right
    after operation K of that change commits (stop-after:… pauses it instead).
    """
    import os
    import sys

    from setright.errors import ConfigError
    from setright.render.run import run_summary
    from setright.runner.changes import load_all
    from setright.runner.execute import run_targets
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
    changes = load_all(config)
    store = app.writer()
    printer = ProgressPrinter(app.style, terminal=sys.stdout.isatty())
    outcomes = run_targets(store, config, changes, names, actor=app.actor(),
                           options=RunOptions(max_attempts=max_attempts, fault=fault),
                           observer=printer)
    printer.close()
    click.echo(run_summary([o.as_dict() for o in outcomes], app.style))
    return 0 if all(o.ok for o in outcomes) else 1


class ProgressPrinter:
    """A progress bar per apply and a line per task on a terminal; plain lines otherwise."""

    def __init__(self, style: Any, *, terminal: bool) -> None:
        self.style = style
        self.terminal = terminal
        self.bar: Any = None

    def _line(self, text: str) -> None:
        if self.bar is not None:
            click.echo("\r\033[K", nl=False)
        click.echo(text)
        if self.bar is not None:
            self.bar.render_progress()

    def target_started(self, target: str) -> None:
        from setright.render.run import target_line

        self._line(target_line(target))

    def reaped(self, target: str, report: Any) -> None:
        from setright.render.run import reap_line

        self._line(reap_line(report.as_dict()))

    def apply_started(self, apply_id: str, attempt: int, max_attempts: int, done: int,
                      total: int, resumed: bool) -> None:
        from setright.render.run import apply_line

        self._finish_bar()
        self._line(apply_line(apply_id, attempt, max_attempts, done, total, resumed))
        if self.terminal and total:
            self.bar = click.progressbar(length=total, label="  operations", show_pos=True)
            self.bar.update(done)
            self.bar.render_progress()

    def task_started(self, position: int, change_id: str, operations: int) -> None:
        pass

    def operations_committed(self, change_id: str, count: int) -> None:
        if self.bar is not None:
            self.bar.update(count)

    def task_finished(self, position: int, change_id: str, state: str, audit_state: str | None,
                      detail: str | None) -> None:
        from setright.render.run import task_line

        self._line(task_line(position, change_id, state, audit_state, detail, self.style))

    def apply_finished(self, apply_id: str, state: str, error: str | None) -> None:
        from setright.render.run import apply_finished_line

        self._finish_bar()
        self._line(apply_finished_line(apply_id, state, error))

    def _finish_bar(self) -> None:
        if self.bar is not None:
            self.bar.render_finish()
            self.bar = None

    def close(self) -> None:
        self._finish_bar()
