"""`setright status`."""

from __future__ import annotations

import click


@click.command()
@click.option("-t", "--target", "targets", multiple=True, metavar="TARGET",
              help="Only this target (repeatable; default: every target).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(app, targets: tuple[str, ...], as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Per target: pending and running changes, last apply, open issues, lock holder,
    checksum drift."""
    from setright.errors import ConfigError
    from setright.render.run import status_view
    from setright.render.style import to_json
    from setright.runner.changes import load_all
    from setright.runner.status import target_statuses

    config = app.config()
    unknown = [t for t in targets if t not in config.targets]
    if unknown:
        known = ", ".join(config.targets) or "none"
        raise ConfigError(f"unknown target {unknown[0]!r}", [f"targets in setright.yaml: {known}"])
    names = list(dict.fromkeys(targets)) or None
    changes = load_all(config)
    store = app.reader()
    statuses = [s.as_dict() for s in target_statuses(store, config, changes, names)]
    click.echo(to_json({"targets": statuses}) if as_json
               else status_view(statuses, store.now_iso(), app.style))
