"""`audit fix` and `redrive`: a one-entry plan through the same evaluation and writes."""

from __future__ import annotations

from dataclasses import replace

import click

from setright.errors import SetrightError
from setright.planner.entries import PlanEntry

#: the plan's wording for a resolution file → the same advice for the command line
_CLI_WORDING = (("set expect: ", "pass --expect "), ("the entry expects ", "--expect names "),
                ("but expect names its state", "but --expect names its state"),
                ("set accept_drift: true", "pass --accept-drift"),
                ("accept_drift: true: redriving", "--accept-drift: redriving"))


def cli_wording(message: str) -> str:
    """A conflict message as the command line says it (`--expect STATE`, not `expect:`)."""
    for file_words, cli_words in _CLI_WORDING:
        message = message.replace(file_words, cli_words)
    return message


def _done(entry: PlanEntry, after: str | None, target: str | None) -> str:
    if entry.kind == "resolution":
        return f"Fix complete! {entry.subject} is {after}."
    where = f" on {target}" if target else ""
    return f"Redrive complete! The next `setright run` resumes apply {entry.subject}{where}."


#: Seconds to wait for the apply and target locks: another `audit fix` holds them only
#: for its one transaction, after which this command re-reads and reports the new facts.
LOCK_WAIT_S = 10.0


#: where a resolution file's field comes from on the command line
_OPTIONS = {"$.reason": "--reason", "$.ticket": "--ticket",
            "$.resolutions[0].change": "--change-id", "$.redrives[0].apply": "APPLY_ID"}


def _check_as_a_file(entry: PlanEntry) -> None:
    item = ({"change": entry.subject, "resolution": entry.resolution}
            if entry.kind == "resolution" else {"apply": entry.subject})
    check_like_a_file(entry.kind, item, entry.reason, entry.ticket)


def check_like_a_file(kind: str, item: dict[str, str], reason: str | None,
                      ticket: str | None = None) -> None:
    """The options, written as a resolution file with this one entry, must pass that file's
    schema: a reason or a ticket with an escape or a carriage return is refused here as it
    is there (`kind`: resolution or redrive; `item`: the entry's subject)."""
    from setright.schemas import data_problems

    if not (reason or "").strip():  # a resolution file's reason must not be empty either
        raise click.BadParameter("must not be empty", param_hint="--reason")
    data = {"version": 1, "reason": reason, f"{kind}s": [item],
            **({"ticket": ticket} if (ticket or "").strip() else {})}  # blank: the policy's
    problems = data_problems(data, "resolution")
    if problems:  # the first, as click names one bad option
        path, message = problems[0]
        raise click.BadParameter(message, param_hint=_OPTIONS.get(path, path))


def run_one_entry(app, entry: PlanEntry, *, yes: bool) -> None:  # type: ignore[no-untyped-def]
    import os

    from setright.cli.confirm import confirm
    from setright.planner.apply import CLI_FILE, StalePlan, apply_plan
    from setright.planner.build import build_plan
    from setright.planner.model import Outcome
    from setright.planner.project import redrive_context
    from setright.planner.sessions import refuse_live_sessions
    from setright.planner.writes import moved_refusal
    from setright.render.plan import action_lines
    from setright.resolutions.checks import missing_ticket
    from setright.resolutions.ci import pull_request_from_env
    from setright.store.locks import default_owner

    what = "Fix" if entry.kind == "resolution" else "Redrive"
    _check_as_a_file(entry)
    config = app.config()
    missing = missing_ticket(config, entry.ticket)
    if missing:
        raise SetrightError(f"{missing}; pass --ticket",
                            ["a resolution file without a ticket is refused the same way"])
    pull_request = pull_request_from_env(os.environ)
    store = app.writer()
    owner = default_owner()
    with store.read():  # the preview's facts, all from one snapshot
        plan = build_plan(store.conn, entries=[entry], files=[],
                          ctx=redrive_context(store, config, owner=owner),
                          store_url=config.store_url, lineage=store.lineage, serial=store.serial)
    [action] = plan.actions
    assert action.file == CLI_FILE
    if action.outcome == Outcome.CONFLICT:
        raise SetrightError(cli_wording(action.messages[0]),
                            [cli_wording(m) for m in action.messages[1:]])
    if action.outcome == Outcome.SATISFIED:
        click.echo(f"Nothing to do: {action.messages[0]}.")
        return
    click.echo("setright will perform the following action:\n")
    shown = replace(action, messages=[cli_wording(m) for m in action.messages])
    click.echo("\n".join(action_lines(shown, app.style)) + "\n")
    refuse_live_sessions(plan.actions, config)   # before asking; apply checks again
    confirm("Do you want to perform this action?", assume_yes=yes, flag="--yes",
            cancelled=f"{what} cancelled; nothing was written.")
    try:
        result = apply_plan(plan, store, config, actor=app.actor(), owner=owner, source="cli",
                            pull_request=pull_request, lock_timeout=LOCK_WAIT_S)
    except StalePlan as exc:  # it moved since the preview: say what the transaction saw
        if len(exc.now) != 1:
            raise
        refusal = moved_refusal(exc.now[0])
        if refusal is not None:
            raise type(refusal)(cli_wording(refusal.message),
                                [cli_wording(d) for d in refusal.details]) from None
        click.echo(f"Nothing to do: {exc.now[0].messages[0]}.")
        return
    for line in result.lines:
        click.echo(line)
    click.echo(_done(entry, action.after, action.target))
