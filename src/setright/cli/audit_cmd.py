"""`setright audit list` (and, later, `audit fix`)."""

from __future__ import annotations

import click


@click.group()
def audit() -> None:
    """Read the audit log, or mark a change by hand (audit fix)."""


@audit.command("fix")
@click.option("-c", "--change", "change_id", required=True, metavar="CHANGE_ID")
@click.option("-r", "--resolution", required=True,
              type=click.Choice(["APPLIED", "ROLLED_BACK"], case_sensitive=False))
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@click.option("--ticket", help="A ticket reference (recorded).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def audit_fix(app, change_id: str, resolution: str, reason: str,  # type: ignore[no-untyped-def]
              ticket: str | None, yes: bool) -> None:
    """Mark CHANGE_ID APPLIED or ROLLED_BACK now (same checks as a resolution file)."""
    from setright.cli.imperative import run_one_entry
    from setright.planner.entries import PlanEntry

    run_one_entry(app, PlanEntry(kind="resolution", subject=change_id, file="<cli>",
                                 resolution=resolution.upper(), reason=reason, ticket=ticket),
                  yes=yes)


@audit.command("list")
@click.option("--history", is_flag=True, help="Every audit row, not only the current state.")
@click.option("--since", metavar="DATE", help="Only rows at or after DATE (ISO-8601).")
@click.option("-c", "--change", "change_id", metavar="CHANGE_ID", help="Only this change.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def audit_list(app, history: bool, since: str | None, change_id: str | None,  # type: ignore[no-untyped-def]
               as_json: bool) -> None:
    """Current state per change (Change ID, State, Author, Target, Time)."""
    from setright.render.audit import current_table, history_table
    from setright.render.style import to_json
    from setright.store.audit import list_current, list_history
    from setright.timeutil import ms_from_any

    since_ms = None
    if since is not None:
        since_ms = ms_from_any(since)
        if since_ms is None:
            raise click.BadParameter(f"{since!r} is not a date (use e.g. 2026-11-01)",
                                     param_hint="--since")
    store = app.reader()
    if history:
        rows = list_history(store.conn, store.audit_table, change_id=change_id, since_ms=since_ms)
        click.echo(to_json({"rows": rows}) if as_json else history_table(rows, app.style))
    else:
        rows = list_current(store.conn, store.audit_table, change_id=change_id, since_ms=since_ms)
        click.echo(to_json({"changes": rows}) if as_json else current_table(rows, app.style))
