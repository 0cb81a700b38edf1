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
import re

#: drawn once per process; a value read from a file or a store cannot know it
SEAL = os.urandom(8).hex()
_ESC = "\x1b" + SEAL

#: what the output filter escapes (as `\\uXXXX`, six columns) unless it is a sealed code:
#: C0 controls but tab and line feed, DEL, C1 controls, bidirectional overrides
UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
#: a sealed code of setright's (no width on screen), or a character shown escaped
_SHOWN = re.compile(rf"\x1b{SEAL}(?:\[[0-9]{{1,2}}m|\[K|\r)|[{UNSAFE}]")


def shown_width(text: str) -> int:
    """How many columns `text` takes once the output filter has written it: a sealed code
    none, an escaped character six (`\\u001b`), anything else one."""
    if _SHOWN.search(text) is None:
        return len(text)
    extra = 0
    for match in _SHOWN.finditer(text):
        extra += -len(match.group()) if len(match.group()) > 1 else 5
    return len(text) + extra


#: the colours setright uses (SGR foreground codes), by the names render/ passes
_COLOURS = {"red": 31, "green": 32, "yellow": 33, "cyan": 36}

#: back to the start of the line and clear it (the live progress line)
CLEAR_LINE = f"{_ESC}\r{_ESC}[K"


def coloured(text: str, colour: str) -> str:
    """`text` in `colour`, then the terminal's colours back to normal."""
    return f"{_ESC}[{_COLOURS[colour]}m{text}{_ESC}[0m"
