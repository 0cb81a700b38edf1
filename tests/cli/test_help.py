"""Every command's --help exits 0, reads as that command, and names its key options;
the README's command reference is exactly what `--help` prints (it cannot drift)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from setright.cli import cli
from setright.cli.docs import BEGIN, END, reference, replace_block

README = Path(__file__).resolve().parents[2] / "README.md"

#: command → what its help must mention (its key options, and its own words)
KEY_OPTIONS = {
    "": ["--config", "--store", "--no-color", "--ascii", "--version", "-v, --verbose"],
    "init": ["DIRECTORY", "ignored"],
    "run": ["-t, --target", "--max-attempts", "SETRIGHT_FAULT", "SETRIGHT_PROGRESS_INTERVAL"],
    "status": ["-t, --target", "--json", "running"],
    "applies list": ["--state", "--json"],
    "applies show": ["APPLY_ID", "--json"],
    "applies cancel": ["APPLY_ID", "--reason", "--yes"],
    "issue list": ["--json", "--exit-code"],
    "issue get": ["-c, --change-id", "-g, --guidance", "--json", "--write"],
    "audit list": ["--history", "--since", "-c", "--json"],
    "audit fix": ["-c", "-r, --resolution", "--reason", "--ticket", "--yes"],
    "redrive": ["APPLY_ID", "--force", "--reason", "--yes"],
    "validate": ["PATH"],
    "schema": ["resolution|change|config|plan"],
    "plan": ["PATHS", "-o, --out", "--format", "--detailed-exitcode"],
    "show": ["PLANFILE", "--format"],
    "apply": ["PLANFILE", "--auto-approve", "--lock-timeout", "--allow-dirty"],
    "history": ["--json"],
    "lock list": ["--json"],
    "lock release": ["LOCK_ID", "--force"],
    "store migrate": ["--to", "--json", "empty", "lineage"],
    "store refold": ["--json", "hand", "event"],
}


@pytest.mark.parametrize("path", list(KEY_OPTIONS))
def test_help_of_every_command(path: str) -> None:
    words = path.split()
    result = CliRunner().invoke(cli, [*words, "--help"], prog_name="setright")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: setright {path}".rstrip() + " ")
    for key in KEY_OPTIONS[path]:
        assert key in result.output, (path, key)
    assert "-h, --help" in result.output


def test_every_command_is_checked() -> None:
    """A new command gets an entry above (and so a help check) or this fails."""
    import click

    def paths(group: click.Group, prefix: str = "") -> list[str]:
        out = []
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            out.append(f"{prefix}{name}")
            if isinstance(command, click.Group):
                out += paths(command, f"{prefix}{name} ")
        return out

    groups = {p for p in paths(cli) if isinstance(_command(p), click.Group)}
    assert set(paths(cli)) - groups == set(KEY_OPTIONS) - {""}


def _command(path: str):  # type: ignore[no-untyped-def]
    import click

    command = cli
    for word in path.split():
        command = command.get_command(click.Context(command), word)  # type: ignore[attr-defined]
        assert command is not None, path
    return command


def test_each_command_module_is_imported_only_when_its_command_is_named() -> None:
    """`setright issue list` does not build the other commands' options (a few ms of
    every small command); `--help` lists every command of `COMMANDS` all the same."""
    import subprocess
    import sys

    code = ("import sys; from setright.cli import cli; import click;"
            " before = sorted(m for m in sys.modules if m.endswith('_cmd'));"
            " cli.get_command(click.Context(cli), 'issue');"
            " after = sorted(m for m in sys.modules if m.endswith('_cmd'));"
            " print(before, after)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[] ['setright.cli.issue_cmd']"


def test_the_command_table_names_each_command_as_it_names_itself() -> None:
    from setright.cli import COMMANDS

    for name in COMMANDS:
        assert _command(name).name == name
    assert cli.get_command(None, "no-such-command") is None  # type: ignore[arg-type]


def test_every_completer_is_attached_once_its_command_is_loaded() -> None:
    from setright.cli.completion import COMPLETERS

    for (path, parameter), completer in COMPLETERS.items():
        params = [p for p in _command(path).params if p.name == parameter]
        assert [p._custom_shell_complete for p in params] == [completer], path


def test_fix_is_not_called_apply() -> None:
    """`apply` is the command that carries out a plan; other commands say what they do."""
    for path in ("audit fix", "redrive", "run"):
        text = CliRunner().invoke(cli, [*path.split(), "--help"]).output
        summary = text.split("\n\n")[1]
        assert not summary.strip().startswith("Apply"), (path, summary)


def test_readme_command_reference_is_the_real_help() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert replace_block(text, reference()) == text, (
        "README.md's command reference is stale: run "
        "'.venv/bin/python -m setright.cli.docs --readme README.md'")


@pytest.mark.parametrize("columns", ["200", "80"])
def test_the_reference_is_what_help_prints_on_a_terminal(columns: str) -> None:
    """Word for word and line for line: `--help` wraps at 78 columns on any terminal as
    wide as 80 or wider, and so does the reference."""
    text = README.read_text(encoding="utf-8")
    env = {**os.environ, "COLUMNS": columns}
    for path in ("", "redrive", "issue get", "store migrate"):  # a real process: CliRunner
        shown = subprocess.run([sys.executable, "-m", "setright", *path.split(), "--help"],
                               capture_output=True, text=True, env=env, check=True)
        assert shown.stdout.strip() in text, path                # forces 80 columns


def test_reference_has_every_command_once() -> None:
    block = reference()
    for path in KEY_OPTIONS:
        heading = f"#### `{('setright ' + path).strip()}`\n"
        assert block.count(heading) == 1, heading
