"""`setright audit list` and `audit fix`."""

from __future__ import annotations

import click

from setright.cli.dates import read_since


@click.group()
def audit() -> None:
    """Read the audit log, or mark a change by hand (audit fix)."""


class UpperChoice(click.Choice):  # type: ignore[type-arg]
    """Choices shown in upper case, as resolution files write them; any case accepted
    (click's own case-insensitive Choice would show them in lower case)."""

    def __init__(self, choices: tuple[str, ...]) -> None:
        super().__init__(choices, case_sensitive=False)

    def normalize_choice(self, choice: object, ctx: click.Context | None) -> str:
        return str(choice).upper()


CHANGE_STATES = ("STARTED", "APPLIED", "FAILED", "ROLLED_BACK", "ROLLBACK_FAILED",
                 "MANUAL_MARKED_AS_APPLIED", "MANUAL_MARKED_AS_ROLLED_BACK")


def _states(_ctx: object, _param: object, values: tuple[str, ...]) -> tuple[str, ...]:
    """`--expect` values: repeated and/or comma-separated, any case; kept in order, once each."""
    states: list[str] = []
    for value in values:
        for part in value.split(","):
            state = part.strip().upper()
            if state not in CHANGE_STATES:
                raise click.BadParameter(
                    f"{part.strip()!r} is not a change state (one of {', '.join(CHANGE_STATES)})")
            if state not in states:
                states.append(state)
    return tuple(states)


@audit.command("fix")
@click.option("-c", "--change-id", "--change", "change_id", required=True, metavar="CHANGE_ID",
              help="The change to mark.")
@click.option("-r", "--resolution", required=True,
              type=UpperChoice(("APPLIED", "ROLLED_BACK")),
              help="The state to record (any case).")
@click.option("--expect", multiple=True, callback=_states, metavar="STATE[,STATE]",
              help="Guard: refuse unless the change is in one of these states (repeatable). "
                   "Naming the current state exactly marks a change that is not an issue.")
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@click.option("--ticket", help="A ticket reference (recorded; required by policy.require_ticket).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def audit_fix(app, change_id: str, resolution: str, expect: tuple[str, ...],  # type: ignore[no-untyped-def]
              reason: str, ticket: str | None, yes: bool) -> None:
    """Mark CHANGE_ID APPLIED or ROLLED_BACK now (same checks as a resolution file)."""
    from setright.cli.imperative import run_one_entry
    from setright.planner.entries import PlanEntry

    run_one_entry(app, PlanEntry(kind="resolution", subject=change_id, file="<cli>",
                                 resolution=resolution.upper(), expect=expect, reason=reason,
                                 ticket=ticket), yes=yes)


@audit.command("list")
@click.option("--history", is_flag=True, help="Every audit row, not only the current state.")
@click.option("--since", "since_ms", callback=read_since, metavar="DATE",
              help="Only rows at or after DATE (ISO-8601 date or date-time; UTC by default).")
@click.option("-c", "--change-id", "--change", "change_id", metavar="CHANGE_ID",
              help="Only this change.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def audit_list(app, history: bool, since_ms: int | None, change_id: str | None,  # type: ignore[no-untyped-def]
               as_json: bool) -> None:
    """Current state per change (Change ID, State, Author, Target, Time)."""
    from setright.render.audit import current_table, history_table
    from setright.render.style import to_json
    from setright.store.audit_listing import list_current, list_history
    store = app.reader()
    filtered = change_id is not None or since_ms is not None
    if history:
        rows = list_history(store.conn, store.audit_table, change_id=change_id, since_ms=since_ms)
        click.echo(to_json({"rows": rows}) if as_json
                   else history_table(rows, app.style, filtered=filtered))
    else:
        rows = list_current(store.conn, store.audit_table, change_id=change_id, since_ms=since_ms)
        click.echo(to_json({"changes": rows}) if as_json
                   else current_table(rows, app.style, filtered=filtered))
