"""`setright applies list | show | cancel`."""

from __future__ import annotations

from typing import Any

import click

_STATES = ("pending", "running", "completed", "failed_retryable", "failed", "cancelled")


@click.group()
def applies() -> None:
    """Inspect and cancel runner applies."""


@applies.command("list")
@click.option("--state", type=click.Choice(_STATES), help="Only applies in this state.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def applies_list(app, state: str | None, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Every apply, newest first: state, attempts, tasks done, error."""
    from setright.render.applies import applies_table
    from setright.render.style import to_json
    from setright.store.applies import list_applies, task_progress

    conn = app.reader().conn
    progress = task_progress(conn, state)
    rows = [{**apply.as_dict(), "tasks_completed": progress.get(apply.id, (0, 0))[0],
             "tasks_total": progress.get(apply.id, (0, 0))[1]}
            for apply in list_applies(conn, state=state)]
    click.echo(to_json({"applies": rows}) if as_json
               else applies_table(rows, app.style, filtered=state is not None))


@applies.command("show")
@click.argument("apply_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def applies_show(app, apply_id: str, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """One apply: its lease and error, tasks with states and attempts, operations."""
    from setright.render.applies import apply_detail
    from setright.render.style import to_json

    store = app.reader()
    data = _apply_data(store.conn, apply_id)
    click.echo(to_json(data) if as_json else apply_detail(data, store.now_iso(), app.style))


@applies.command("cancel")
@click.argument("apply_id")
@click.option("--reason", required=True, help="Why (recorded in the event).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def applies_cancel(app, apply_id: str, reason: str, yes: bool) -> None:  # type: ignore[no-untyped-def]
    """Cancel a pending, failed_retryable or failed apply and its unfinished tasks.

    It does not resolve partial state: the audit log is untouched, so a change
    that failed without a transaction is still an issue afterwards.
    """
    from setright.render.applies import cancelled
    from setright.store.applies import cancel_apply, get_apply
    from setright.store.issues import blocking_issues
    from setright.store.transitions import Provenance

    from setright.cli.confirm import confirm
    from setright.cli.imperative import check_like_a_file

    check_like_a_file("redrive", {"apply": apply_id}, reason)  # what a redrive's are checked by
    store = app.writer()
    apply = get_apply(store.conn, apply_id)
    confirm(f"Cancel apply {apply.id} on target {apply.target} ({apply.state})?",
            assume_yes=yes, flag="--yes", cancelled="apply not cancelled; nothing was written")
    prov = Provenance(actor=app.actor(), source="cli", reason=reason)
    previous, after, count = cancel_apply(store, apply_id, prov, lock_ttl=app.config().lock_ttl)
    issues = [{"change_id": v.facts.change_id, "state": v.facts.state, "meaning": v.rule.meaning}
              for v in blocking_issues(store.conn, store.now_ms(), after.target,
                                       lock_table=app.config().flamingock_lock_table)]
    click.echo(cancelled({"apply": after.as_dict(), "previous_state": previous,
                          "tasks_cancelled": count, "issues": issues}))


def _apply_data(conn: Any, apply_id: str) -> dict[str, Any]:
    from setright.store.applies import get_apply, operations_of, tasks_of

    apply = get_apply(conn, apply_id)
    return {"apply": apply.as_dict(),
            "tasks": [t.as_dict() for t in tasks_of(conn, apply_id)],
            "operations": [op.as_dict() for op in operations_of(conn, apply_id)]}
