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
    """The changes that need a human: Change ID, State, Error, Target."""
    from setright.cli.app import echo_json_parts, no_cyclic_gc
    from setright.render.issues import issue_list as render_list
    from setright.render.issues import issue_list_json_parts
    from setright.planner.issue_report import marker_reader
    from setright.store.issue_list import issue_overview

    store, config = app.reader(), app.config()
    with no_cyclic_gc():   # tens of thousands of acyclic row objects
        issues, running = issue_overview(store.conn, store.audit_table, now_ms=store.now_ms(),
                                         redrive_max_age=config.redrive_max_age,
                                         markers=marker_reader(config),
                                         lock_table=config.flamingock_lock_table)
        if as_json:   # 5 MB for 10,000 issues
            echo_json_parts(issue_list_json_parts(issues, running))
        else:
            click.echo(render_list(issues, app.style, running))
    return 3 if exit_code and issues else 0   # running changes are not issues


@issue.command("get")
@click.option("-c", "--change-id", "--change", "change_id", metavar="CHANGE_ID",
              help="This change (default: the first open issue, in 'issue list' order).")
@click.option("-g", "--guidance", is_flag=True,
              help="Include the resolution guidance (Flamingock's flag; the full report "
                   "always includes it).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--write", is_flag=True,
              help="Create the suggested resolution file (with an empty reason to fill in).")
@click.pass_obj
def issue_get(app, change_id: str | None, guidance: bool, as_json: bool, write: bool) -> None:  # type: ignore[no-untyped-def]
    """Diagnosis, guidance and a ready resolution file for one issue.

    Without -c: the first issue in 'issue list' order; the last line names the next.
    """
    from setright.planner.issue_report import IssueReport, issue_report, write_suggested
    from setright.render.issues import issue_get as render_get
    from setright.render.issues import issue_json, next_issue, not_an_issue
    from setright.render.style import to_json
    from setright.resolutions.files import relative_name

    del guidance  # accepted for Flamingock's users: the report always carries the guidance
    if change_id == "":   # an unset shell variable: never another change in its place
        raise click.BadParameter("must not be empty", param_hint="--change-id")
    store, config = app.reader(), app.config()
    report = issue_report(store, config, change_id)
    if report is None:
        click.echo("No issues found.")
        return
    if not isinstance(report, IssueReport):   # the named change is not an issue
        click.echo(to_json(report.as_dict()) if as_json else not_an_issue(report))
        return
    if write:
        write_suggested(report, config.resolutions)
    d, following = report.diagnosis, next_issue(report.issues, report.diagnosis.change_id)
    if as_json:
        click.echo(to_json(issue_json(d, report.file_text, report.file_name, report.others,
                                      following, report.drift, report.session)))
    else:
        folder = relative_name(config.resolutions, config.root)
        click.echo(render_get(d, report.file_text, report.file_name, report.others, following,
                              report.drift, folder, report.session))
        if write:
            click.echo(f"\nWrote {folder}/{report.file_name}: fill in its reason, then "
                       "'setright validate' and 'setright plan'.")
