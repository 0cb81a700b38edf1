"""`setright validate [PATH...]`."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("paths", nargs=-1, metavar="[PATH]...", type=click.Path(path_type=Path))
@click.pass_obj
@click.pass_context
def validate(ctx: click.Context, app, paths: tuple[Path, ...]) -> None:  # type: ignore[no-untyped-def]
    """Check resolution files (schema, duplicates, policy, ledger).

    Checks every file in the resolutions folder, or only the PATHs named
    (files or folders; arguments that are not YAML files are ignored, so it
    works as a pre-commit hook). Reads the ledger when the audit store exists,
    without creating or changing it. Exits 1 when there are errors, 0 otherwise.
    """
    from setright.errors import StoreError
    from setright.render.validate import validation_text
    from setright.resolutions.checks import validate_resolutions
    from setright.resolutions.files import relative_name
    from setright.store.ledger import read_ledger_at

    config = app.config()
    store = config.store
    store_name = relative_name(store.path, config.root) if store.path else store.shown
    ledger = None
    note = None
    if store.path is None or store.path.exists():
        try:
            ledger = read_ledger_at(store, store_name)
        except StoreError as exc:
            note = f"ledger checks skipped: {exc.message}"
    else:
        note = (f"no audit store at {store_name}; ledger checks skipped (a repeated change "
                f"or apply id is a warning, not an error)")
    app.warn_without_resolutions(paths)
    selected = [app.cwd / p for p in paths] if paths else None
    report = validate_resolutions(config, selected, ledger=ledger)
    click.echo(validation_text(report, app.style, note))
    ctx.exit(1 if report.errors else 0)
