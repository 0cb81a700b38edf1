"""`setright plan` and `setright show`."""

from __future__ import annotations

from pathlib import Path

import click

FORMATS = click.Choice(["text", "markdown", "json"])


def render(plan, fmt: str, style) -> str:  # type: ignore[no-untyped-def]
    from setright.render.plan import plan_markdown, plan_text
    from setright.render.plan_json import plan_json_text

    if fmt == "json":
        return plan_json_text(plan)
    if fmt == "markdown":
        return plan_markdown(plan)
    return plan_text(plan, style)


def echo_rendered(plan, fmt: str, style) -> None:  # type: ignore[no-untyped-def]
    """`click.echo(render(plan, fmt, style))`; JSON in the pieces it is made in (a 10,000-entry
    plan is 11 MB: one string, and its copies on the way out, cost more than writing it)."""
    if fmt != "json":
        click.echo(render(plan, fmt, style))
        return
    from setright.cli.app import echo_json_parts
    from setright.render.plan_json import plan_json_pieces

    echo_json_parts(plan_json_pieces(plan))
    click.echo()


def output_format(fmt: str | None, as_json: bool) -> str:
    """`--json` is `--format json`; the two must not disagree."""
    if as_json and fmt not in (None, "json"):
        raise click.UsageError(f"--json and --format {fmt} disagree; pass one of them")
    return "json" if as_json else fmt or "text"


def plan_file(out: Path | None, tf_out: Path | None) -> Path | None:
    """`-o/--out FILE`, or Terraform's `-out=FILE` / `-out FILE` (the same option)."""
    if out is not None and tf_out is not None and out != tf_out:
        raise click.UsageError(f"-o {out} and -out {tf_out} disagree; pass one of them")
    return out or tf_out


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Save the JSON plan (with a digest) for 'setright apply FILE'; "
                   "Terraform's -out=FILE works too.")
@click.option("-out", "tf_out", type=click.Path(path_type=Path, dir_okay=False), hidden=True)
@click.option("--format", "fmt", type=FORMATS, default=None,
              help="What to print on stdout (default: text), whatever -o saves.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 for no changes, 1 for errors or conflicts, 2 for changes present.")
@click.pass_obj
def plan(app, paths: tuple[Path, ...], out: Path | None, tf_out: Path | None,  # type: ignore[no-untyped-def]
         fmt: str | None, as_json: bool, detailed_exitcode: bool) -> int:
    """Show what the resolution files would change (all of them, or PATHS).

    PATHS are files directly in the resolutions folder (or that folder): a file
    from anywhere else is refused, since what is applied is recorded by its name
    in the project.
    """
    from setright.cli.app import no_cyclic_gc

    fmt, out = output_format(fmt, as_json), plan_file(out, tf_out)
    with no_cyclic_gc():   # an action, its guard and entry per entry: no cycles
        from setright.planner.project import plan_project   # (imports: no cycles to find)
        from setright.store.locks import default_owner

        store, config = app.reader(), app.config()
        app.warn_without_resolutions(paths)
        result = plan_project(store, config, list(paths) or None, owner=default_owner())
        echo_rendered(result, fmt, app.style)
    if out is not None:
        if result.errored:
            click.echo(f"\nNot saved to {out}: a plan with conflicts or errors cannot be applied.",
                       err=True)
        else:
            from setright.planner.saved import save_plan

            save_plan(result, out)
            click.echo(f"\nSaved the plan to {out}. To perform exactly these actions, run:\n"
                       f"    setright apply {out}", err=True)
    if result.errored:
        return 1
    return 2 if detailed_exitcode and result.has_changes else 0


@click.command()
@click.argument("planfile", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=FORMATS, default=None, help="Output format (default: text).")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.pass_obj
def show(app, planfile: Path, fmt: str | None, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Render a saved plan; warn about everything 'setright apply' would refuse it for."""
    from setright.planner.saved import load_plan
    from setright.planner.stale import saved_plan_findings
    from setright.store.locks import default_owner

    fmt = output_format(fmt, as_json)
    saved, _ = load_plan(planfile)
    found = saved_plan_findings(saved, app.reader(), app.config(), owner=default_owner())
    if found.lines:
        click.echo(f"Warning: {found.heading}; 'setright apply {planfile}' would refuse it:",
                   err=True)
        for line in found.lines:
            click.echo(f"  {line}", err=True)
    echo_rendered(saved, fmt, app.style)
