"""`setright store migrate` and `setright store refold`."""

from __future__ import annotations

import click

#: Rows between two progress lines on stderr while a big table is copied.
PROGRESS_EVERY = 100_000


@click.group()
def store() -> None:
    """Maintain the audit store: move it to another database, or fold it again."""


@store.command("migrate")
@click.option("--to", "to_url", required=True, metavar="URL",
              help="The empty store to copy into: sqlite:///path.db, postgresql://… or "
                   "mysql://… (${VAR} allowed; relative paths from the project root).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def migrate(app, to_url: str, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Copy the configured store, whole, into an empty store at URL.

    Every table is copied with its ids, lineage and serial, from one consistent
    read of the store, in one transaction on the destination; each table's row
    count and digest are verified before it commits. A destination that already
    holds rows, or a target's database, is refused. Afterwards point store.url (or SETRIGHT_STORE) at
    the new store and stop using the old one.
    """
    from setright.config import parse_given_url
    from setright.render.migrate import migration_summary
    from setright.render.style import to_json
    from setright.store.migrate import BATCH_ROWS, migrate_store

    config = app.config()
    destination = parse_given_url(to_url, config.root, "--to")
    source = app.writer()

    def progress(table: str, done: int, total: int) -> None:
        if total > PROGRESS_EVERY and done % PROGRESS_EVERY < BATCH_ROWS <= done:
            click.echo(f"  {table}: {done} of {total} rows copied", err=True)

    result = migrate_store(source, destination, progress=progress,
                           targets={n: t.db_url for n, t in config.targets.items()}).as_dict()
    click.echo(to_json(result) if as_json else migration_summary(result, app.style))


@store.command("refold")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def refold(app, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Fold the whole audit log again into setright's change-state cache.

    setright folds only audit rows newer than the last one it folded, as the log
    grows by appends. After the audit table was edited by hand (a row deleted, or
    inserted with a lower id), run this: every row is folded again in one write
    transaction, and each change whose current row moved is listed and recorded as
    an event.
    """
    from setright.render.refold import refold_summary
    from setright.render.style import to_json
    from setright.store.refold import refold as refold_store
    from setright.store.transitions import Provenance

    result = refold_store(app.writer(), Provenance(actor=app.actor(), source="cli")).as_dict()
    click.echo(to_json(result) if as_json else refold_summary(result, app.style))
