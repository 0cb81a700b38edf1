"""The `setright` command group: global options, error reporting, exit codes.

Commands only parse and dispatch; they import core modules inside their
functions so `setright --help` never loads deepdiff, jsonschema or SQLite code.
A command's own module is imported when the command is named (`COMMANDS`), so
`setright issue list` does not build the options of fourteen other commands.
Every expected failure prints one `Error:` line (plus indented detail) and
exits 1; usage errors exit 1 too, so only `--detailed-exitcode` ever exits 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from setright import __version__
from setright.cli.app import App

_VERBOSE = False
#: the running command's context, which an interrupt's message asks what it wrote
_APP: App | None = None


#: every top-level command: its name → "module:attribute" in `setright.cli`
COMMANDS = {
    "applies": "applies_cmd:applies",
    "apply": "apply_cmd:apply",
    "audit": "audit_cmd:audit",
    "history": "apply_cmd:history",
    "init": "init_cmd:init",
    "issue": "issue_cmd:issue",
    "lock": "lock_cmd:lock",
    "plan": "plan_cmd:plan",
    "redrive": "apply_cmd:redrive",
    "run": "run_cmd:run",
    "schema": "schema_cmd:schema",
    "show": "plan_cmd:show",
    "status": "status_cmd:status",
    "store": "store_cmd:store",
    "validate": "validate_cmd:validate",
}


class SetrightGroup(click.Group):
    """A click group that maps every failure to setright's exit codes and loads each
    command from `COMMANDS` when it is first asked for (help lists them all)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            import importlib

            from setright.cli.completion import attach

            module, attribute = COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(f"setright.cli.{module}"), attribute)
            attach(command, cmd_name)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        global _OUTPUT
        from setright.cli.printable import printable_output

        if sys.stdout is None:   # started with fd 1 closed: there is nowhere for results
            click.echo("Error: standard output is closed; setright writes its results there",
                       err=True)
            click.echo("  redirect it to /dev/null to discard them", err=True)
            sys.exit(1)
        saved = sys.stdout
        sys.stdout = _OUTPUT = GuardedOutput(saved)  # type: ignore[assignment]
        try:
            with printable_output():
                self._main(args, prog_name, complete_var, **extra)
        except SystemExit:
            _flush_output()   # what is still buffered: a failure now is this command's too
            raise
        except OSError as exc:
            if not _lost_output(exc):
                raise
            _report_lost_output(exc)
        finally:
            sys.stdout = saved

    def _main(self, args: Any, prog_name: Any, complete_var: Any, **extra: Any) -> None:
        global _VERBOSE
        _VERBOSE = False
        _refuse_undecodable(sys.argv[1:] if args is None else args)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(0)
        except click.exceptions.UsageError as exc:
            exc.show()
            sys.exit(1)
        except click.exceptions.Abort:   # Ctrl-C, or the end of input at a question
            for line in interrupted_lines():
                click.echo(line, err=True)
            sys.exit(1)
        except click.ClickException as exc:
            exc.show()
            sys.exit(1)
        except Exception as exc:  # noqa: BLE001 - the one place that turns errors into text
            if isinstance(exc, OSError) and _lost_output(exc):
                _report_lost_output(exc)
            if _caused_by_interrupt(exc):   # a driver's cleanup failed after a Ctrl-C
                for line in interrupted_lines():
                    click.echo(line, err=True)
                sys.exit(1)
            if _VERBOSE:
                import traceback

                traceback.print_exc()
            report_error(exc)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


class GuardedOutput:
    """sys.stdout (under `PrintableStream`), remembering the error writing to it raised, so
    the error report can tell "stdout is gone or full" (one `Error:` line: the environment's
    problem) from a bug; and writing what its encoding cannot show as `\\u2026` escapes
    (JSON's own, as `printable` writes controls) instead of failing the command."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.failed: OSError | None = None

    def write(self, text: Any) -> int:
        try:
            return self.stream.write(text)
        except UnicodeEncodeError:   # raised before anything is written: write it escaped
            return self._write(_escape_unencodable(text, self.stream.encoding))
        except OSError as exc:
            self.failed = exc
            raise

    def _write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError as exc:
            self.failed = exc
            raise

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as exc:
            self.failed = exc
            raise

    @property
    def buffer(self) -> _GuardedBytes:
        """The binary side (click writes there when the encoding is ASCII), guarded alike."""
        return _GuardedBytes(self.stream.buffer, self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class _GuardedBytes:
    """`GuardedOutput.buffer`: records its write errors on the text side's guard."""

    def __init__(self, raw: Any, guard: GuardedOutput) -> None:
        self.raw, self.guard = raw, guard

    def write(self, data: Any) -> int:
        try:
            return self.raw.write(data)
        except OSError as exc:
            self.guard.failed = exc
            raise

    def flush(self) -> None:
        try:
            self.raw.flush()
        except OSError as exc:
            self.guard.failed = exc
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


#: this process's stdout guard, while a command runs
_OUTPUT: GuardedOutput | None = None


#: the codec error handler `_escape_unencodable` registers (once)
_JSON_ESCAPES = "setright-json-escapes"


def _escape_unencodable(text: str, encoding: str) -> str:
    """`text` with each character `encoding` cannot write as `\\uXXXX` (astral ones as a
    surrogate pair, unlike `backslashreplace`), so even JSON output keeps its meaning."""
    import codecs

    try:
        codecs.lookup_error(_JSON_ESCAPES)
    except LookupError:
        codecs.register_error(_JSON_ESCAPES, _json_escapes)
    return text.encode(encoding, _JSON_ESCAPES).decode(encoding)


def _json_escapes(error: UnicodeError) -> tuple[str, int]:
    """The codec error handler: the characters in `error` as JSON's `\\u` escapes."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    escaped = []
    for char in error.object[error.start:error.end]:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            escaped.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            escaped.append(f"\\u{code:04x}")
    return "".join(escaped), error.end


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what it was raised from or while handling, and so on (each once)."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        yield link
        seen.add(id(link))
        link = link.__cause__ or link.__context__


def _lost_output(exc: BaseException) -> bool:
    """Whether `exc` (or what it was raised while handling) is stdout failing to take output."""
    failed = None if _OUTPUT is None else _OUTPUT.failed
    return failed is not None and any(link is failed for link in _chain(exc))


def _flush_output() -> None:
    """Flush stdout before exiting, so a failure to flush is reported here, not by the interpreter
    at exit (a traceback-like "Exception ignored" and exit code 120)."""
    if _OUTPUT is None:
        return
    try:
        _OUTPUT.flush()
    except OSError as exc:
        _report_lost_output(exc)


def _report_lost_output(exc: OSError) -> NoReturn:
    """stdout cannot take the output: exit 1, with one `Error:` line on stderr unless its
    reader simply went away (EPIPE: `| head`, which click too ends silently). Whatever is
    still buffered goes to /dev/null (Python's documented way for EPIPE: devnull dup'ed
    over stdout), so the interpreter's own flush at exit cannot fail again."""
    import errno

    from setright.entry import discard_output

    if _OUTPUT is not None:
        discard_output(_OUTPUT.stream)
    if exc.errno == errno.EPIPE:
        sys.exit(1)
    try:
        click.echo(f"Error: cannot write to standard output: {exc.strerror or exc}", err=True)
        if _APP is not None and _APP.wrote:
            click.echo("  what the command did is recorded in the audit store;"
                       " run 'setright status' to see it", err=True)
    except OSError:   # stderr is gone too: the exit code says it
        pass
    sys.exit(1)


def _caused_by_interrupt(exc: BaseException) -> bool:
    """Whether `exc` was raised while a Ctrl-C was being handled (its context chain)."""
    return any(isinstance(link, KeyboardInterrupt) for link in _chain(exc))


def interrupted_lines() -> list[str]:
    """What an interrupt says: nothing was written, or where to look for what was."""
    if _APP is not None and _APP.wrote:
        return ["Error: interrupted; what the command did before is recorded in the audit store",
                "  run 'setright status' and 'setright issue list' to see where it stopped"]
    return ["Error: aborted; nothing was written."]


def _refuse_undecodable(args: Any) -> None:
    """An argument that is not UTF-8 (Python keeps its bytes as lone surrogates) cannot be an
    id, a URL or a name setright writes anywhere: one error naming it, before any command."""
    for arg in args:
        if isinstance(arg, str) and any("\ud800" <= c <= "\udfff" for c in arg):
            click.echo(f"Error: the argument {ascii(arg)} is not valid UTF-8", err=True)
            sys.exit(1)


def report_error(exc: Exception) -> None:
    from setright.errors import SetrightError

    if isinstance(exc, SetrightError):
        message, details = exc.message, exc.details
    elif isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        # the system refused a path (too long, not permitted…) where no reader words it: the
        # environment's problem, said as one line naming the path, not an internal error
        from setright.redact import escaped_name

        name = (os.fsdecode(exc.filename) if isinstance(exc.filename, (str, bytes))
                else str(exc.filename))
        message, details = f"{escaped_name(name)}: {exc.strerror}", []
    else:
        message = f"internal error: {type(exc).__name__}: {exc}"
        details = [] if _VERBOSE else ["run again with -v for the traceback"]
    click.echo("Error: " + message, err=True)
    for line in details:
        click.echo("  " + line, err=True)


@click.group(cls=SetrightGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="setright")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Path to setright.yaml (default: search this folder and its parents).")
@click.option("--store", "store_url", metavar="URL",
              help="Audit store URL (overrides store.url and SETRIGHT_STORE).")
@click.option("--no-color", is_flag=True, help="Never colour output (also: NO_COLOR=1, TERM=dumb).")
@click.option("--ascii", "ascii_only", is_flag=True, help="ASCII tables instead of box drawing.")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, store_url: str | None, no_color: bool,
        ascii_only: bool, verbose: bool) -> None:
    """setright: resolution-as-code for failed database changes.

    Find what needs a human (issue list), commit a resolution file, review
    the plan, apply it: guarded, all or nothing, recorded in a ledger.
    """
    global _VERBOSE, _APP
    _VERBOSE = verbose
    preset = ctx.obj if isinstance(ctx.obj, dict) else {}
    stream = sys.stdout
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    # no-color.org: NO_COLOR set to anything but the empty string turns colour off
    color = not no_color and not os.environ.get("NO_COLOR") and screen_terminal(stream)
    app = App(
        config_path=config_path,
        store_url=store_url,
        ascii_only=ascii_only or encoding not in ("utf8", "utf_8"),
        color=color,
        verbose=verbose,
        cwd=_working_folder(),
        clock=preset.get("clock"),
        width=terminal_width(stream),
    )
    ctx.obj = _APP = app
    # click never strips ANSI codes itself: `printable_output` escapes every one but
    # setright's own (sealed), so a value's escape is shown as one, not silently dropped
    ctx.color = True
    ctx.call_on_close(app.close)


def _working_folder() -> Path:
    try:
        return Path.cwd()
    except FileNotFoundError:
        from setright.errors import ConfigError

        raise ConfigError("the current folder no longer exists (it was deleted or moved)",
                          ["change to the project's folder again"]) from None


def screen_terminal(stream: Any) -> bool:
    """Whether `stream` is a terminal that obeys colour and line-clearing codes: a tty
    whose `TERM` is not `dumb` (Emacs' shell, some CI consoles print the codes as text)."""
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def terminal_width(stream: Any) -> int | None:
    """Columns for tables: `COLUMNS`, else the terminal's size; None for piped output
    without `COLUMNS`, so what scripts and snapshots read does not depend on a window."""
    if "COLUMNS" in os.environ or stream.isatty():
        import shutil

        return shutil.get_terminal_size().columns
    return None


def main() -> None:
    cli(prog_name="setright")
