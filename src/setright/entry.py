"""The `setright` executable: the CLI, with a Ctrl-C caught where click cannot catch it.

click turns an interrupt inside a command into one `Error:` line. Before that (while
Python imports click, the first ~50 ms) and after it (a second Ctrl-C while a store
transaction rolls back) an interrupt would print a traceback; here it ends the same way.
Whatever way it ends, stdout is flushed here, so a reader that went away cannot make the
interpreter's own flush at exit print "Exception ignored … BrokenPipeError".
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        _run()
    finally:
        _settle_stdout()


def _settle_stdout() -> None:
    """Flush stdout; if it cannot take what is buffered, send that to /dev/null (Python's
    documented way for EPIPE: devnull dup'ed over stdout). The exit code is already set."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError):
        discard_output(sys.stdout)


def discard_output(stream: object) -> None:
    """Point `stream`'s file descriptor at /dev/null, so nothing more written (or still
    buffered) there can fail; nothing for a stream without one (a test's)."""
    import os

    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass


def _run() -> None:
    try:
        from setright.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        cli = sys.modules.get("setright.cli")
        lines = (cli.interrupted_lines() if cli is not None and hasattr(cli, "interrupted_lines")
                 else ["Error: aborted; nothing was written."])
        try:
            sys.stderr.write("".join(f"{line}\n" for line in lines))
            sys.stderr.flush()
        except (KeyboardInterrupt, OSError):  # a third Ctrl-C, or stderr gone: the code says it
            pass
        sys.exit(1)
