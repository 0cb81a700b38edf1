"""SQLite's statement splitter: where a change script's statements end.

It asks SQLite itself (`sqlite3.complete_statement`) where a statement ends, so
triggers (`BEGIN … END;`), string literals, quoted identifiers and comments
containing `;` are handled exactly as SQLite parses them — a regex splitter gets
these wrong. The operations of a change, and so its checksum, are this
splitter's output: it must not change (the tests pin it).

`SqliteImpl.split_statements` / `statement_spans` are the seam's way in; the
runner never calls this module directly.
"""

from __future__ import annotations

import sqlite3


def split_statements(script: str) -> list[str]:
    """The statements of `script`, in order, each stripped of surrounding blank space.

    A statement ends at the first `;` after which SQLite considers the text
    complete. A `--` comment on the same line after that `;` stays with the
    statement it annotates. Text after the last `;` is one final statement.
    Pieces holding only blank space, comments and `;` are dropped.
    """
    return [statement for _, statement in statement_spans(script)]


def statement_spans(script: str) -> list[tuple[int, str]]:
    """`split_statements`, each statement with the offset in `script` where it starts."""
    statements: list[tuple[int, str]] = []
    if script.count(";") == 1 and script.rstrip().endswith(";"):
        # one `;`, at the end (most change scripts, every operation run): whether or
        # not SQLite calls the text complete there, the whole text is its one piece
        _keep(statements, script, 0)
        return statements
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
        _keep(statements, script[start:end], start)
        start = probe = end
    if start < length:
        _keep(statements, script[start:], start)
    return statements


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
    if newline == end:
        return end  # the common case: the line ends at the `;`
    line_end = len(script) if newline < 0 else newline
    rest = script[end:line_end].lstrip()
    if rest.startswith("--"):
        return line_end
    return end


def _keep(statements: list[tuple[int, str]], piece: str, start: int) -> None:
    statement = piece.strip()
    # a statement that starts with neither a comment nor `;` holds SQL: no need to scan it
    if statement[:1] not in ("", "-", "/", ";") or has_sql(statement):
        statements.append((start + len(piece) - len(piece.lstrip()), statement))
