"""Splitting SQL scripts into statements, and hashing statements (DESIGN §5.1).

Splitting asks SQLite itself (`sqlite3.complete_statement`) where a statement
ends, so triggers (`BEGIN … END;`), string literals, quoted identifiers and
comments containing `;` are handled exactly as SQLite parses them — a regex
splitter gets these wrong. Hashes are taken over a normalised form so that
line endings and trailing blanks, which editors change freely, are not drift.
"""

from __future__ import annotations

import hashlib
import sqlite3

HASH_PREFIX = "h1:"


def split_statements(script: str) -> list[str]:
    """The statements of `script`, in order, each stripped of surrounding blank space.

    A statement ends at the first `;` after which SQLite considers the text
    complete. A `--` comment on the same line after that `;` stays with the
    statement it annotates. Text after the last `;` is one final statement.
    Pieces holding only blank space, comments and `;` are dropped.
    """
    statements: list[str] = []
    start = 0
    probe = 0
    length = len(script)
    while True:
        semicolon = script.find(";", probe)
        if semicolon < 0:
            break
        end = semicolon + 1
        if not sqlite3.complete_statement(script[start:end]):
            probe = end  # the `;` is inside a literal, a comment or a trigger body
            continue
        end = _end_of_trailing_comment(script, end)
        _keep(statements, script[start:end])
        start = probe = end
    if start < length:
        _keep(statements, script[start:])
    return statements


def normalise(statement: str) -> str:
    """The form a statement is hashed in: LF line ends, no trailing blanks, no outer blank space."""
    # rstrip() also drops the \r of a CRLF line end
    return "\n".join(line.rstrip() for line in statement.split("\n")).strip()


def statement_hash(statement: str) -> str:
    """`h1:` + sha256 of the normalised statement (the version prefix allows a future h2)."""
    digest = hashlib.sha256(normalise(statement).encode("utf-8")).hexdigest()
    return HASH_PREFIX + digest


def has_sql(piece: str) -> bool:
    """False when `piece` holds nothing but blank space, comments and semicolons."""
    index, length = 0, len(piece)
    while index < length:
        char = piece[index]
        if char.isspace() or char == ";":
            index += 1
        elif piece.startswith("--", index):
            newline = piece.find("\n", index)
            if newline < 0:
                return False
            index = newline + 1
        elif piece.startswith("/*", index):
            close = piece.find("*/", index + 2)
            if close < 0:
                return False  # an unterminated comment runs to the end
            index = close + 2
        else:
            return True
    return False


def _end_of_trailing_comment(script: str, end: int) -> int:
    """Extend `end` over the rest of its line when that is only blank space and a `--` comment."""
    newline = script.find("\n", end)
    line_end = len(script) if newline < 0 else newline
    rest = script[end:line_end].lstrip()
    if rest.startswith("--"):
        return line_end
    return end


def _keep(statements: list[str], piece: str) -> None:
    if has_sql(piece):
        statements.append(piece.strip())
