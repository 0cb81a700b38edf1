"""`audit fix` and `redrive`: a one-entry plan through the same evaluation and writes."""

from __future__ import annotations

import click

from setright.errors import SetrightError
from setright.planner.entries import PlanEntry

#: Seconds to wait for the apply and target locks: another `audit fix` holds them only
#: for its one transaction, after which this command re-reads and reports the new facts.
LOCK_WAIT_S = 10.0


def run_one_entry(app, entry: PlanEntry, *, yes: bool) -> None:  # type: ignore[no-untyped-def]
    from setright.cli.confirm import confirm
    from setright.planner.apply import CLI_FILE, StalePlan, apply_plan
    from setright.planner.build import build_plan
    from setright.planner.model import Outcome
    from setright.planner.project import redrive_context
    from setright.planner.writes import moved_refusal
    from setright.render.plan import action_lines
    from setright.store.locks import default_owner

    store, config = app.writer(), app.config()
    owner = default_owner()
    with store.read():  # the preview's facts, all from one snapshot
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
    try:
        result = apply_plan(plan, store, config, actor=app.actor(), owner=owner, source="cli",
                            lock_timeout=LOCK_WAIT_S)
    except StalePlan as exc:  # it moved since the preview: say what the transaction saw
        if len(exc.now) != 1:
            raise
        refusal = moved_refusal(exc.now[0])
        if refusal is not None:
            raise refusal from None
        click.echo(f"Nothing to do: {exc.now[0].messages[0]}.")
        return
    for line in result.lines:
        click.echo(line)
    click.echo(result.summary())
