"""`setright status`."""

from __future__ import annotations

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(app, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Per target: pending changes, last apply, open issues, lock holder, checksum drift."""
    from setright.render.run import status_view
    from setright.render.style import to_json
    from setright.runner.changes import load_all
    from setright.runner.status import target_statuses

    config = app.config()
    changes = load_all(config)
    store = app.reader()
    statuses = [s.as_dict() for s in target_statuses(store, config, changes)]
    click.echo(to_json({"targets": statuses}) if as_json
               else status_view(statuses, store.now_iso(), app.style))
