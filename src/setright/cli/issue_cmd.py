"""`setright issue list | get`."""

from __future__ import annotations

import click


@click.group()
def issue() -> None:
    """Find the changes that need a human, and what to do about each."""


@issue.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--exit-code", is_flag=True, help="Exit 3 when issues exist (a CI gate).")
@click.pass_obj
def issue_list(app, as_json: bool, exit_code: bool) -> int:  # type: ignore[no-untyped-def]
    """ISSUES FOUND table: Change ID, State, Error, Target."""
    from setright.render.issues import issue_list as render_list
    from setright.render.issues import issue_list_json
    from setright.render.style import to_json
    from setright.store.diagnosis import diagnose_issues

    store = app.reader()
    issues = diagnose_issues(store.conn, store.audit_table, now_ms=store.now_ms(),
                             redrive_max_age=app.config().redrive_max_age)
    click.echo(to_json(issue_list_json(issues)) if as_json else render_list(issues, app.style))
    return 3 if exit_code and issues else 0


@issue.command("get")
@click.option("-c", "--change", "change_id", metavar="CHANGE_ID",
              help="This change (default: the oldest open issue).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--write", is_flag=True,
              help="Create the suggested resolution file (with an empty reason to fill in).")
@click.pass_obj
def issue_get(app, change_id: str | None, as_json: bool, write: bool) -> None:  # type: ignore[no-untyped-def]
    """Diagnosis, guidance and a ready resolution file for one issue."""
    from setright.errors import SetrightError, UnknownId
    from setright.render.issues import issue_get as render_get
    from setright.render.issues import issue_json, not_an_issue
    from setright.render.style import to_json
    from setright.resolutions.template import resolution_file_name, resolution_yaml
    from setright.store.diagnosis import diagnose_change, diagnose_issues

    store, config = app.reader(), app.config()
    now = store.now_ms()
    issues = diagnose_issues(store.conn, store.audit_table, now_ms=now,
                             redrive_max_age=config.redrive_max_age)
    if change_id is None:
        if not issues:
            click.echo("No issues found.")
            return
        chosen = issues[0]
    else:
        found = diagnose_change(store.conn, store.audit_table, change_id, now_ms=now,
                                redrive_max_age=config.redrive_max_age)
        if found is None:
            raise UnknownId(f"no change {change_id!r} in the audit store")
        if not found.is_issue:
            click.echo(to_json({**found.as_dict()}) if as_json else not_an_issue(found))
            return
        chosen = found
    remaining = sum(1 for d in issues if d.change_id != chosen.change_id)
    text = resolution_yaml(chosen)
    name = resolution_file_name(chosen, now)
    if write:
        path = config.resolutions / name
        if path.exists():
            raise SetrightError(f"{path} already exists; not overwriting it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if as_json:
        click.echo(to_json(issue_json(chosen, text, name, remaining)))
    else:
        click.echo(render_get(chosen, text, name, remaining))
        if write:
            click.echo(f"\nWrote resolutions/{name}: fill in its reason, then "
                       "'setright validate' and 'setright plan'.")
