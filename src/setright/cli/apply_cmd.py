"""`setright apply`, `setright redrive`, `setright history`."""

from __future__ import annotations

from pathlib import Path

import click


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
    from setright.planner.apply import apply_plan, check_applyable, check_files_unchanged, file_commits
    from setright.planner.project import plan_project
    from setright.planner.saved import load_plan
    from setright.render.plan import plan_text
    from setright.store.locks import default_owner

    store, config = app.writer(), app.config()
    owner = default_owner()
    if planfile is not None:
        plan, _ = load_plan(planfile)
    else:
        plan = plan_project(store, config, owner=owner)
        click.echo(plan_text(plan, app.style))
        click.echo()
    check_applyable(plan, store)
    if not plan.actions:
        click.echo("No changes. Nothing to apply.")
        return
    check_files_unchanged(plan, config)
    commits, warnings = file_commits(plan, config, allow_dirty=allow_dirty)
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)
    if planfile is None:
        confirm("Do you want to perform these actions?", assume_yes=auto_approve,
                flag="--auto-approve")
    result = apply_plan(plan, store, config, actor=app.actor(), owner=owner, commits=commits,
                        lock_timeout=lock_timeout)
    for line in result.lines:
        click.echo(line)
    click.echo(result.summary())


@click.command()
@click.argument("apply_id")
@click.option("--force", is_flag=True, help="Take over the target lock held by another owner.")
@click.option("--reason", required=True, help="Why (recorded with the redrive).")
@click.option("--ticket", help="A ticket reference (recorded).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def redrive(app, apply_id: str, force: bool, reason: str, ticket: str | None,  # type: ignore[no-untyped-def]
            yes: bool) -> None:
    """Reopen failed apply APPLY_ID for retry (same checks as a redrive in a resolution file)."""
    from setright.cli.imperative import run_one_entry
    from setright.planner.entries import PlanEntry

    run_one_entry(app, PlanEntry(kind="redrive", subject=apply_id, file="<cli>", force=force,
                                 reason=reason, ticket=ticket), yes=yes)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def history(app, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """The ledger, newest first: what was applied, by whom, from which file and commit."""
    from setright.render.history import history_text
    from setright.render.style import to_json
    from setright.store.history import ledger_history

    rows = ledger_history(app.reader().conn)
    click.echo(to_json({"history": rows}) if as_json else history_text(rows, app.style))
