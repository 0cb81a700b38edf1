"""Output no value can turn into terminal commands.

Files are checked where they are read, but a store holds text setright never
checked: a Flamingock runner's change ids and error traces, a database's error
messages, rows an older version wrote. Whatever reaches the terminal goes
through `PrintableStream`, which writes every control character (other than a
line break and a tab), DEL, C1 and bidirectional override as a `\\u001b`-style
escape, so a value can neither clear the screen, retitle the window, move the
cursor, colour or hide text nor reorder what a reviewer reads. Only setright's
own codes become real ones: its colours and the live line's clearing, which
`render/terminal.py` writes sealed with a secret of the process. The escape is
JSON's own, so JSON output keeps its meaning; the bulk JSON writers skip the
check (`unfiltered`): their encoder escapes every C0 control already.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from setright.render.terminal import SEAL
from setright.render.terminal import UNSAFE as _UNSAFE
_FOUND = re.compile(f"[{_UNSAFE}]")
#: a sealed code of setright's (a colour, a return, a line clearing), made real; any other
#: unsafe character escaped
_TOKEN = re.compile(rf"\x1b{SEAL}(\[[0-9]{{1,2}}m|\[K|\r)|[{_UNSAFE}]")


def _escaped(match: re.Match[str]) -> str:
    code = match.group(1)
    if code is None:
        return f"\\u{ord(match.group()):04x}"
    return code if code == "\r" else "\x1b" + code


def printable(text: str) -> str:
    """`text` with what a terminal would act on written as escapes."""
    return text if _FOUND.search(text) is None else _TOKEN.sub(_escaped, text)


class PrintableStream:
    """A text stream that writes `printable(text)`. Its `buffer` (where click writes bytes,
    as shell completion does) checks the same, so nothing can write around it."""

    def __init__(self, stream: TextIO) -> None:
        self.unfiltered = stream

    def write(self, text: Any) -> int:
        return self.unfiltered.write(printable(text) if isinstance(text, str) else text)

    @property
    def buffer(self) -> _PrintableBytes:
        return _PrintableBytes(self.unfiltered.buffer)  # AttributeError if it has none

    def __getattr__(self, name: str) -> Any:
        return getattr(self.unfiltered, name)


class _PrintableBytes:
    """The binary side: UTF-8 (undecodable bytes kept as they are) through `printable`."""

    def __init__(self, raw: Any) -> None:
        self.unfiltered = raw

    def write(self, data: bytes) -> int:
        text = bytes(data).decode("utf-8", "surrogateescape")
        self.unfiltered.write(printable(text).encode("utf-8", "surrogateescape"))
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.unfiltered, name)


def unfiltered(stream: Any) -> Any:
    """The stream under a `PrintableStream` (for JSON written in bulk), else `stream`."""
    return stream.unfiltered if isinstance(stream, PrintableStream) else stream


@contextmanager
def printable_output() -> Iterator[None]:
    """Inside: sys.stdout and sys.stderr escape what a terminal would act on."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (s if s is None else PrintableStream(s)  # type: ignore[assignment]
                              for s in saved)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
