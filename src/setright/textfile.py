"""Reading a file setright is given, whole and bounded.

Every file a command is pointed at (config, change and resolution files, a saved
plan, a CI event payload) is read here. A plan for 10,000 entries is about 11 MB, so
`MAX_FILE_BYTES` leaves room for several times the largest project setright is built
for, while `apply /dev/zero`, a named pipe that never ends or a file grown by
mistake is refused after that many bytes instead of reading until the kernel kills
the process.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 128 * 2**20
_CHUNK = 1 << 20


class FileTooLarge(OSError):
    """Raised as an OSError, so every reader's `exc.strerror` handling words it."""

    def __init__(self, limit: int) -> None:
        super().__init__(errno.EFBIG, f"larger than {limit // 2**20} MiB, "
                                      "the most setright reads from one file")


class NotRegular(OSError):
    """A named pipe, socket or device where a file is expected (an OSError, as above)."""

    def __init__(self) -> None:
        super().__init__(errno.EINVAL, "not a regular file (a named pipe, socket or device)")


def read_bytes(path: Path | str, limit: int = MAX_FILE_BYTES, *,
               regular: bool = False) -> bytes:
    """The file's bytes, or FileTooLarge past `limit`. A regular file is sized first and
    read in one call (refused unread if it is too large); a pipe or a device, whose size
    says nothing, in chunks until its end or the limit. `regular`: refuse anything but a
    regular file (NotRegular), opened without waiting for a named pipe's writer."""
    flags = os.O_RDONLY | os.O_CLOEXEC | (os.O_NONBLOCK if regular else 0)
    with open(os.open(path, flags), "rb", buffering=0) as handle:
        status = os.fstat(handle.fileno())
        if regular and not stat.S_ISREG(status.st_mode):
            raise NotRegular()
        size = status.st_size
        if size > limit:
            raise FileTooLarge(limit)
        chunks, total = [], 0
        want = size + 1 if size else _CHUNK  # +1: a regular file ends with an empty read
        while chunk := handle.read(min(want, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise FileTooLarge(limit)
            want = _CHUNK
        return b"".join(chunks)


def read_text(path: Path | str, limit: int = MAX_FILE_BYTES, *, regular: bool = False) -> str:
    """The file as UTF-8 text with its line ends translated as Python's text mode does
    (`\\r\\n` and a lone `\\r` read as `\\n`); decoded at once, which costs less than a
    text stream's decoder for the small files setright mostly reads."""
    text = read_bytes(path, limit, regular=regular).decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
