"""setright's own terminal codes, sealed so that no value can pass for one.

Everything setright prints goes through `cli/printable.py`, which escapes every
control character a value could carry: an escape in a change id, a database's
error message or a resolution file is shown as `\\u001b`, never obeyed. The few
codes setright writes itself (colours, and "clear this line" for the live
progress line) are written here with a seal after their escape character: a
random text drawn when the process starts. The output filter turns a sealed
code into the real one and escapes every other, so a value cannot colour, hide
or redraw what a reviewer reads: it was written before the seal existed.
"""

from __future__ import annotations

import os

#: drawn once per process; a value read from a file or a store cannot know it
SEAL = os.urandom(8).hex()
_ESC = "\x1b" + SEAL

#: the colours setright uses (SGR foreground codes), by the names render/ passes
_COLOURS = {"red": 31, "green": 32, "yellow": 33, "cyan": 36}

#: back to the start of the line and clear it (the live progress line)
CLEAR_LINE = f"{_ESC}\r{_ESC}[K"


def coloured(text: str, colour: str) -> str:
    """`text` in `colour`, then the terminal's colours back to normal."""
    return f"{_ESC}[{_COLOURS[colour]}m{text}{_ESC}[0m"
