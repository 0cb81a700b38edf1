"""`setright apply`, `setright redrive`, `setright history`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from setright.cli.dates import read_since


def _duration(_ctx: object, _param: object, value: str) -> float:
    from setright.timeutil import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.argument("planfile", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--auto-approve", is_flag=True, help="Skip the confirmation (CI).")
@click.option("--lock-timeout", default="0s", callback=_duration, metavar="DURATION",
              help="Wait this long for held locks (e.g. 30s).")
@click.option("--allow-dirty", is_flag=True,
              help="Apply resolution files that are not committed (policy.require_committed).")
@click.pass_obj
def apply(app, planfile: Path | None, auto_approve: bool, lock_timeout: float,  # type: ignore[no-untyped-def]
          allow_dirty: bool) -> None:
    """Carry out a reviewed plan (PLANFILE), or plan now, show it and ask."""
    from setright.cli.confirm import confirm
    from setright.planner.apply import (
        apply_plan,
        check_applyable,
        check_unchanged,
        file_origins,
        load_reviewed_files,
    )
    from setright.planner.project import plan_project
    from setright.planner.saved import load_plan
    from setright.render.plan import plan_text
    from setright.resolutions.ci import pull_request_from_env
    from setright.store.locks import default_owner

    store, config = app.writer(), app.config()
    owner = default_owner()
    pull_request = pull_request_from_env(os.environ)
    if planfile is not None:
        plan, _ = load_plan(planfile)
    else:
        plan = plan_project(store, config, owner=owner)
        click.echo(plan_text(plan, app.style))
        click.echo()
    check_applyable(plan, store)
    files = load_reviewed_files(plan, config)
    if not plan.actions:
        check_unchanged(plan, store, config, files, owner=owner)
        click.echo("No changes. Nothing to apply.")
        return
    origins = file_origins(plan, config, allow_dirty=allow_dirty,
                           named_authors={f.path for f in files if f.author})
    for warning in origins.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if planfile is None:
        confirm("Do you want to perform these actions?", assume_yes=auto_approve,
                flag="--auto-approve")
    result = apply_plan(plan, store, config, actor=app.actor(), owner=owner, files=files,
                        origins=origins, lock_timeout=lock_timeout, pull_request=pull_request)
    for line in result.lines:
        click.echo(line)
    click.echo(result.summary())


@click.command()
@click.argument("apply_id")
@click.option("--force", is_flag=True, help="Take over the target lock held by another owner.")
@click.option("--accept-drift", is_flag=True,
              help="Redrive although the target's schema lost or altered something it had "
                   "when the apply failed (the drift is still shown).")
@click.option("--reason", required=True, help="Why (recorded with the redrive).")
@click.option("--ticket", help="A ticket reference (recorded; required by policy.require_ticket).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def redrive(app, apply_id: str, force: bool, accept_drift: bool, reason: str,  # type: ignore[no-untyped-def]
            ticket: str | None, yes: bool) -> None:
    """Reopen failed apply APPLY_ID for retry (same checks as a redrive in a resolution file)."""
    from setright.cli.imperative import run_one_entry
    from setright.planner.entries import PlanEntry

    run_one_entry(app, PlanEntry(kind="redrive", subject=apply_id, file="<cli>", force=force,
                                 accept_drift=accept_drift, reason=reason, ticket=ticket),
                  yes=yes)


@click.command()
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              metavar="N", help="Show the newest N entries (0: all).")
@click.option("-c", "--change-id", "--change", "change_id", metavar="CHANGE_ID",
              help="Only entries that marked this change or redrove an apply with it.")
@click.option("--since", callback=read_since, metavar="DATE",
              help="Only entries at or after DATE (ISO-8601 date or date-time; UTC by default).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def history(app, limit: int, change_id: str | None, since: int | None,  # type: ignore[no-untyped-def]
            as_json: bool) -> None:
    """What was applied, newest first: resolution-file entries (the ledger) and every
    `audit fix` and `redrive`, with who, why, ticket, file, commit and pull request."""
    from setright.render.history import history_text
    from setright.render.style import to_json
    from setright.store.history import ledger_history
    from setright.timeutil import iso_from_ms

    # past any count a store holds, and within SQL's 64-bit integers
    page = ledger_history(app.reader().conn, limit=min(limit, 2**62) or None,
                          change_id=change_id,
                          since=None if since is None else iso_from_ms(since))
    if as_json:
        click.echo(to_json({"history": page.rows, "more": page.more}))
    else:
        click.echo(history_text(page.rows, app.style, more=page.more,
                                filtered=change_id is not None or since is not None))
