"""Resolution files (format v1), the model: entries, files, entry keys and digests.

What the planner, the checks and the ledger share; `files.py` loads and checks files
into these.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from setright.errors import Problem
from setright.jsontext import canonical_json
from setright.yamlfile import json_path

DIGEST_PREFIX = "sha256:"

#: The list in a file that holds each kind of entry, and the key naming its subject.
LISTS = (("resolutions", "change"), ("redrives", "apply"))


class EntryKind(StrEnum):
    RESOLUTION = "resolution"
    REDRIVE = "redrive"


def list_name(kind: EntryKind) -> str:
    """The list of a file that holds entries of `kind`."""
    return "resolutions" if kind is EntryKind.RESOLUTION else "redrives"


def entry_key(kind: EntryKind | str, subject: str) -> str:
    """The ledger key of an entry: `resolution:<change id>` or `redrive:<apply id>`."""
    return f"{EntryKind(kind).value}:{subject}"


def split_entry_key(key: str) -> tuple[EntryKind, str]:
    """Inverse of `entry_key`; ids may contain ':' (only the first one separates)."""
    kind, sep, subject = key.partition(":")
    if not sep:
        raise ValueError(f"not an entry key: {key!r}")
    return EntryKind(kind), subject


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One entry of a resolution file, with the place it was written."""

    kind: ClassVar[EntryKind]
    subject: str
    file: str
    index: int
    line: int | None = None
    column: int | None = None
    note: str | None = None

    @property
    def key(self) -> str:
        """`entry_key(self.kind, self.subject)`; `kind` is already an `EntryKind` (a str)."""
        return f"{self.kind}:{self.subject}"

    @property
    def json_path(self) -> str:
        return json_path((list_name(self.kind), self.index))

    def location(self) -> str:
        """`file:line:column` of the entry (the start of its mapping)."""
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON views and plan files."""
        data: dict[str, Any] = {"kind": self.kind.value, "key": self.key}
        data.update(vars(self))
        if "expect" in data:
            data["expect"] = list(data["expect"])
        return data


@dataclass(frozen=True, kw_only=True)
class ResolutionEntry(Entry):
    """Mark `subject` (a change id) APPLIED or ROLLED_BACK, guarded by `expect`/`target`."""

    kind: ClassVar[EntryKind] = EntryKind.RESOLUTION
    resolution: str
    expect: tuple[str, ...] = ()
    target: str | None = None

    @property
    def change_id(self) -> str:
        return self.subject


@dataclass(frozen=True, kw_only=True)
class RedriveEntry(Entry):
    """Reopen `subject` (an apply id) for retry; `force` takes over a held target lock."""

    kind: ClassVar[EntryKind] = EntryKind.REDRIVE
    force: bool = False
    accept_drift: bool = False

    @property
    def apply_id(self) -> str:
        return self.subject


@dataclass(frozen=True)
class ResolutionFile:
    """A valid resolution file; `path` is relative to the config root (the ledger's name)."""

    path: str
    abs_path: Path
    digest: str
    reason: str
    ticket: str | None
    author: str | None
    entries: tuple[ResolutionEntry | RedriveEntry, ...]
    data: dict[str, Any] = field(repr=False, compare=False)

    @property
    def resolutions(self) -> tuple[ResolutionEntry, ...]:
        return tuple(e for e in self.entries if isinstance(e, ResolutionEntry))

    @property
    def redrives(self) -> tuple[RedriveEntry, ...]:
        return tuple(e for e in self.entries if isinstance(e, RedriveEntry))


@dataclass
class LoadedFiles:
    """What loading a set of paths produced: the valid files and every problem found."""

    files: list[ResolutionFile]
    problems: list[Problem]
    #: every YAML file that was read (root-relative), valid or not, in load order
    names: list[str]


def canonical_digest(data: Any) -> str:
    """`sha256:` + sha256 of canonical JSON of the parsed content.

    Keys sorted, no whitespace, non-ASCII escaped: comments, quoting, key order
    and block-versus-flow style do not change the digest; any value does.
    """
    text = canonical_json(data, ascii=True)
    return DIGEST_PREFIX + hashlib.sha256(text.encode("ascii")).hexdigest()
