"""`setright lock list | release`."""

from __future__ import annotations

import click


@click.group()
def lock() -> None:
    """Inspect and release locks (targets, setright:apply)."""


@lock.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def lock_list(app, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Every lock row, live or expired."""
    from setright.render.locks import locks_table
    from setright.render.style import to_json
    from setright.store.locks import Locker

    store = app.reader()
    locks = [lk.as_dict() for lk in Locker(store).list()]
    click.echo(to_json({"locks": locks}) if as_json else locks_table(locks, store.now_iso(), app.style))


@lock.command("release")
@click.argument("lock_id")
@click.option("--force", is_flag=True, help="Release a lock held by another owner (recorded).")
@click.pass_obj
def lock_release(app, lock_id: str, force: bool) -> None:  # type: ignore[no-untyped-def]
    """Release LOCK_ID (as shown by 'lock list' or a Lock Info block)."""
    from setright.render.locks import released
    from setright.store.locks import Locker
    from setright.store.transitions import Provenance

    store = app.writer()
    locker = Locker(store, ttl=app.config().lock_ttl)
    if force:
        info = locker.force_release(lock_id, Provenance(actor=app.actor(), source="cli"))
    else:
        info = locker.release_own(lock_id)
    click.echo(released(info.as_dict(), force))
