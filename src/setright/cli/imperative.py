"""`audit fix` and `redrive`: a one-entry plan through the same evaluation and writes."""

from __future__ import annotations

import click

from setright.errors import SetrightError
from setright.planner.entries import PlanEntry


def run_one_entry(app, entry: PlanEntry, *, yes: bool) -> None:  # type: ignore[no-untyped-def]
    from setright.cli.confirm import confirm
    from setright.planner.apply import CLI_FILE, apply_plan
    from setright.planner.build import build_plan
    from setright.planner.model import Outcome
    from setright.planner.project import redrive_context
    from setright.render.plan import action_lines
    from setright.store.locks import default_owner

    store, config = app.store(), app.config()
    owner = default_owner()
    plan = build_plan(store.conn, entries=[entry], files=[],
                      ctx=redrive_context(store, config, owner=owner),
                      store_url=config.store_url, lineage=store.lineage, serial=store.serial)
    [action] = plan.actions
    assert action.file == CLI_FILE
    if action.outcome == Outcome.CONFLICT:
        raise SetrightError(action.messages[0], action.messages[1:])
    if action.outcome == Outcome.SATISFIED:
        click.echo(f"Nothing to do: {action.messages[0]}.")
        return
    click.echo("setright will perform the following action:\n")
    click.echo("\n".join(action_lines(action, app.style)) + "\n")
    confirm("Do you want to perform this action?", assume_yes=yes, flag="--yes")
    result = apply_plan(plan, store, config, actor=app.actor(), owner=owner, source="cli")
    for line in result.lines:
        click.echo(line)
    click.echo(result.summary())
