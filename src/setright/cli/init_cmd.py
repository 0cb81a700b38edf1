"""`setright init`."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.pass_obj
def init(app, directory: Path | None) -> None:  # type: ignore[no-untyped-def]
    """Create setright.yaml, resolutions/, changes/ and .setright/ here (or in DIRECTORY)."""
    from setright.project import init_project

    created = init_project((directory or app.cwd).resolve())
    for path in created:
        click.echo(f"Created {path}")
    click.echo("setright is ready: add targets to setright.yaml, then run 'setright run'.")
