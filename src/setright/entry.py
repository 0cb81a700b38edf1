"""The `setright` executable: the CLI, with a Ctrl-C caught where click cannot catch it.

click turns an interrupt inside a command into one `Error:` line. Before that (while
Python imports click, the first ~50 ms) and after it (a second Ctrl-C while a store
transaction rolls back) an interrupt would print a traceback; here it ends the same way.
"""

from __future__ import annotations

import sys


def main() -> None:
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
