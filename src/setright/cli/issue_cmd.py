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
    from setright.store.issue_list import issue_overview

    store, config = app.reader(), app.config()
    with no_cyclic_gc():   # tens of thousands of acyclic row objects
        issues, running = issue_overview(store.conn, store.audit_table, now_ms=store.now_ms(),
                                         redrive_max_age=config.redrive_max_age,
                                         markers=_markers(config),
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
    from setright.errors import SetrightError, UnknownId
    from setright.render.issues import issue_get as render_get
    from setright.render.issues import issue_json, next_issue, not_an_issue
    from setright.render.style import to_json
    from setright.resolutions.template import free_file_name, resolution_file_name
    from setright.resolutions.template import resolution_yaml
    from setright.resolutions.files import relative_name
    from setright.store.diagnosis import diagnose_change
    from setright.store.issue_list import list_issues

    del guidance  # accepted for Flamingock's users: the report always carries the guidance
    if change_id == "":   # an unset shell variable: never another change in its place
        raise click.BadParameter("must not be empty", param_hint="--change-id")
    store, config = app.reader(), app.config()
    now = store.now_ms()
    markers = _markers(config)
    issues = list_issues(store.conn, now_ms=now, markers=markers,
                         lock_table=config.flamingock_lock_table)
    if change_id is None and not issues:
        click.echo("No issues found.")
        return
    chosen = diagnose_change(store.conn, store.audit_table,
                             issues[0].change_id if change_id is None else change_id,
                             now_ms=now, redrive_max_age=config.redrive_max_age, markers=markers,
                             lock_table=config.flamingock_lock_table)
    if chosen is None:
        raise UnknownId(f"no change {change_id!r} in the audit store")
    if not chosen.is_issue:
        click.echo(to_json({**chosen.as_dict()}) if as_json else not_an_issue(chosen))
        return
    others = [d for d in issues if d.change_id != chosen.change_id]
    drift = _drift(store, config, chosen)
    text = resolution_yaml(chosen, require_ticket=config.require_ticket)
    name = free_file_name(resolution_file_name(chosen, now),
                          lambda n: (config.resolutions / n).exists())
    if write:
        path = config.resolutions / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)  # a file in its place: refused
        except OSError as exc:
            raise SetrightError(f"cannot create the folder {path.parent}: "
                                f"{exc.strerror or exc}") from None
        try:
            with path.open("x", encoding="utf-8") as out:  # never overwrite, even in a race
                out.write(text)
        except FileExistsError:
            raise SetrightError(f"{path} already exists; not overwriting it") from None
        except OSError as exc:
            raise SetrightError(f"cannot write {path}: {exc.strerror or exc}") from None
    following = next_issue(issues, chosen.change_id)
    if as_json:
        click.echo(to_json(issue_json(chosen, text, name, len(others), following, drift)))
    else:
        folder = relative_name(config.resolutions, config.root)
        click.echo(render_get(chosen, text, name, len(others), following, drift, folder))
        if write:
            click.echo(f"\nWrote {folder}/{name}: fill in its reason, then "
                       "'setright validate' and 'setright plan'.")


def _markers(config):  # type: ignore[no-untyped-def]
    """The targets' marker reader, imported only when a task is still running (rarely)."""
    reader = None

    def read(target: str, apply_id: str, change_id: str):  # type: ignore[no-untyped-def]
        nonlocal reader
        if reader is None:
            from setright.runner.reap import target_marker_reader

            reader = target_marker_reader(config.targets)
        return reader(target, apply_id, change_id)

    return read


def _drift(store, config, chosen):  # type: ignore[no-untyped-def]
    """A failed apply's target schema now against its failure time (what a redrive checks);
    None when the change's apply has not failed."""
    from setright.planner.drift import drift_since_failure
    from setright.runner.snapshots import live_snapshot

    if not (chosen.apply_id and chosen.apply_state == "failed" and chosen.target):
        return None
    live = live_snapshot(config.targets.get(chosen.target), chosen.target)
    return drift_since_failure(store.conn, chosen.apply_id, chosen.target, live)
