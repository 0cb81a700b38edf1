"""`setright schema resolution|change|config|plan`."""

from __future__ import annotations

import click

#: kept here (not imported from setright.schemas) so `--help` loads nothing
SCHEMA_NAMES = ("resolution", "change", "config", "plan")


@click.command()
@click.argument("name", type=click.Choice(SCHEMA_NAMES))
def schema(name: str) -> None:
    """Print the JSON Schema of a file format (for editors and CI).

    Needs no setright.yaml. For example, with the YAML language server:
    'setright schema resolution > .setright-resolution.schema.json'.
    """
    import json

    from setright.errors import SetrightError
    from setright.schemas import SCHEMA_FILES, load_schema

    try:
        document = load_schema(name)
    except (FileNotFoundError, KeyError):
        raise SetrightError(
            f"the {name} schema is not shipped in this version of setright",
            [f"expected package data setright/schemas/{SCHEMA_FILES.get(name, name)}"],
        ) from None
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))
