"""`setright init`."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.pass_obj
def init(app, directory: Path | None) -> None:  # type: ignore[no-untyped-def]
    """Create setright.yaml, resolutions/, changes/ and the audit store here (or in DIRECTORY).

    The audit store (.setright/) and the SQLite target files under data/ are
    git-ignored; resolution and change files are meant to be committed. It
    writes no file through a symbolic link (one in a checkout may point anywhere).
    """
    from setright.project import init_all

    for path in init_all((directory or app.cwd).resolve(), app.store_url, app.get_clock()):
        click.echo(f"Created {path}")
    click.echo("setright is ready: add targets to setright.yaml, then run 'setright run'.")
