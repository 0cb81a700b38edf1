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
    git-ignored; resolution and change files are meant to be committed.
    """
    from setright.project import ignore_target_files, init_project, init_store

    root = (directory or app.cwd).resolve()
    created = init_project(root)
    created += init_store(root, app.store_url, app.get_clock())
    ignore = ignore_target_files(root)
    if ignore is not None:
        created.append(ignore)
    for path in created:
        click.echo(f"Created {path}")
    click.echo("setright is ready: add targets to setright.yaml, then run 'setright run'.")
