"""`setright plan` and `setright show`."""

from __future__ import annotations

from pathlib import Path

import click

FORMATS = click.Choice(["text", "markdown", "json"])


def render(plan, fmt: str, style) -> str:  # type: ignore[no-untyped-def]
    from setright.render.plan import plan_json, plan_markdown, plan_text
    from setright.render.style import to_json

    if fmt == "json":
        return to_json(plan_json(plan))
    if fmt == "markdown":
        return plan_markdown(plan)
    return plan_text(plan, style)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Save the JSON plan (with a digest) for 'setright apply FILE'.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 for no changes, 1 for errors or conflicts, 2 for changes present.")
@click.pass_obj
def plan(app, paths: tuple[Path, ...], out: Path | None, fmt: str,  # type: ignore[no-untyped-def]
         detailed_exitcode: bool) -> int:
    """Show what the resolution files would change (all of them, or PATHS)."""
    from setright.planner.project import plan_project
    from setright.planner.saved import save_plan
    from setright.store.locks import default_owner

    store, config = app.reader(), app.config()
    result = plan_project(store, config, list(paths) or None, owner=default_owner())
    click.echo(render(result, "text" if out and fmt == "json" else fmt, app.style))
    if out is not None:
        if result.errored:
            click.echo(f"\nNot saved to {out}: a plan with conflicts cannot be applied.", err=True)
        else:
            save_plan(result, out)
            click.echo(f"\nSaved the plan to {out}. To perform exactly these actions, run:\n"
                       f"    setright apply {out}", err=True)
    if result.errored:
        return 1
    return 2 if detailed_exitcode and result.has_changes else 0


@click.command()
@click.argument("planfile", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.pass_obj
def show(app, planfile: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    """Render a saved plan; warn if the store or the files moved since."""
    from setright.planner.saved import load_plan
    from setright.planner.stale import staleness

    saved, _ = load_plan(planfile)
    moved = staleness(saved, app.reader(), app.config())
    for line in moved:
        click.echo(f"Warning: {line}", err=True)
    click.echo(render(saved, fmt, app.style))
