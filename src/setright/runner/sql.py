"""Portable statement text: hashing, and the transaction-control check.

Where a statement ends is the target database's business: each dialect's
`impl.split_statements` (SQLite asks SQLite itself, see `db/sqlite_lexer.py`),
and change loading asks the target's impl. What is the same everywhere stays
here: hashes are taken over a normalised form so that line endings and
trailing blanks, which editors change freely, are not drift, and a statement
that takes transaction control is judged by its first keyword.

`split_statements` / `statement_spans` / `has_sql` are re-exported from the
SQLite splitter: SQLite is the default dialect (a change file loaded without a
target, as tests do), and `has_sql` knows the standard SQL comments.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from setright.db.sqlite_lexer import has_sql, split_statements, statement_spans

if TYPE_CHECKING:
    from setright.db import DefaultImpl

__all__ = ["HASH_PREFIX", "TX_KEYWORDS", "has_sql", "normalise", "split_statements",
           "statement_hash", "statement_head", "statement_spans", "transaction_control"]

HASH_PREFIX = "h1:"

#: First keywords that take transaction control; START, SET and LOCK only
#: together with the word that follows them.
TX_KEYWORDS = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE",
                         "XA"})
_CONTROL_FIRST = TX_KEYWORDS | {"START", "LOCK", "SET"}
_WORD = re.compile(r"[A-Za-z_@][A-Za-z0-9_@.]*")
_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def normalise(statement: str) -> str:
    """The form a statement is hashed in: LF line ends, no trailing blanks, no outer blank space."""
    if "\n" not in statement:
        return statement.strip()
    # rstrip() also drops the \r of a CRLF line end
    return "\n".join(line.rstrip() for line in statement.split("\n")).strip()


def statement_hash(statement: str) -> str:
    """`h1:` + sha256 of the normalised statement (the version prefix allows a future h2)."""
    digest = hashlib.sha256(normalise(statement).encode("utf-8")).hexdigest()
    return HASH_PREFIX + digest


def transaction_control(script: str, impl: DefaultImpl | None = None, *,
                        spans: list[tuple[int, str]] | None = None) -> list[tuple[int, str]]:
    """(offset, keyword) of every statement of `script` that takes transaction control.

    Statements as the target's `impl` splits them (SQLite's splitter without
    one). Judged by the statement's first keyword after blank space and
    comments, so `COMMIT` in a string, a comment or a trigger body (`CREATE
    TRIGGER … BEGIN … END;` is one statement) is fine. Pieces that start inside
    a dollar-quoted routine body (`DO $$ … $$`), which SQLite's splitter does
    not know, are part of that body, not statements of their own. `spans`: the
    script's statements already split (`statement_spans`), so as not to lex it again.
    """
    bodies = _dollar_bodies(script)
    found: list[tuple[int, str]] = []
    if spans is None:
        spans = statement_spans(script) if impl is None else impl.statement_spans(script)
    for start, statement in spans:
        if any(low < start < high for low, high in bodies):
            continue
        hit = _first_keyword_control(statement)
        if hit is not None:
            found.append((start + hit[0], hit[1]))
    return found


def _first_keyword_control(statement: str) -> tuple[int, str] | None:
    head = _WORD.match(statement)
    if head is not None and head.group(0).upper() not in _CONTROL_FIRST:
        return None  # the common case, decided by a keyword at the very start
    words = _leading_words(statement, 3)
    if not words:
        return None
    first = words[0][1].upper()
    following = [w.upper().lstrip("@") for _, w in words[1:]]
    if first == "BEGIN" and following[:2] == ["NOT", "ATOMIC"]:
        return None   # MariaDB's compound statement (its `DO` block), not a transaction
    if first in TX_KEYWORDS:
        return words[0][0], first
    if first == "START" and following[:1] == ["TRANSACTION"]:
        return words[0][0], "START TRANSACTION"
    if first == "LOCK" and following[:1] == ["TABLES"]:
        return words[0][0], "LOCK TABLES"
    if first == "SET":
        names = [w.split(".")[-1] for w in following
                 if w not in ("SESSION", "GLOBAL", "LOCAL", "PERSIST")]
        if names[:1] == ["AUTOCOMMIT"]:
            return words[0][0], "SET autocommit"
    return None


#: words between a statement's verb and the kind of object it names (`CREATE UNIQUE INDEX`,
#: `CREATE OR REPLACE TEMPORARY TABLE`, `ALTER ONLINE TABLE`): a head stops at the kind
_HEAD_MODIFIERS = {"UNIQUE", "FULLTEXT", "SPATIAL", "TEMPORARY", "TEMP", "UNLOGGED", "OR",
                   "REPLACE", "ONLINE", "IGNORE"}


def statement_head(statement: str) -> tuple[int, str]:
    """(offset of the first keyword, the statement's kind) for messages: `CREATE TABLE`,
    `CREATE UNIQUE INDEX`, `CREATE UNIQUE INDEX CONCURRENTLY` — the verb through the kind
    of object, so a modifier is never what the message ends on; comments before the first
    keyword skipped."""
    words = [w.upper() for _, w in _leading_words(statement, 6)]
    if not words:
        return 0, ""
    count = 1
    while count < len(words) - 1 and words[count] in _HEAD_MODIFIERS:
        count += 1
    count += 1   # the kind: TABLE, INDEX, VIEW …
    if "CONCURRENTLY" in words:
        count = max(count, words.index("CONCURRENTLY") + 1)
    return _leading_words(statement, 1)[0][0], " ".join(words[:count])


def _leading_words(statement: str, count: int) -> list[tuple[int, str]]:
    """The first `count` words of a statement with their offsets, skipping comments."""
    words: list[tuple[int, str]] = []
    index, length = 0, len(statement)
    while index < length and len(words) < count:
        char = statement[index]
        if char.isspace():
            index += 1
        elif statement.startswith("--", index):
            newline = statement.find("\n", index)
            index = length if newline < 0 else newline + 1
        elif statement.startswith("/*", index):
            close = statement.find("*/", index + 2)
            index = length if close < 0 else close + 2
        else:
            match = _WORD.match(statement, index)
            if match is None:
                break
            words.append((index, match.group(0)))
            index = match.end()
    return words


def _dollar_bodies(script: str) -> list[tuple[int, int]]:
    """Spans of `$tag$ … $tag$` bodies outside strings, quoted names and comments."""
    if "$" not in script:
        return []
    bodies: list[tuple[int, int]] = []
    index, length = 0, len(script)
    closers = {"'": "'", '"': '"', "`": "`", "[": "]"}
    while index < length:
        char = script[index]
        if char in closers:
            close = script.find(closers[char], index + 1)
            index = length if close < 0 else close + 1
        elif script.startswith("--", index):
            newline = script.find("\n", index)
            index = length if newline < 0 else newline + 1
        elif script.startswith("/*", index):
            close = script.find("*/", index + 2)
            index = length if close < 0 else close + 2
        elif char == "$" and (match := _DOLLAR.match(script, index)) and not (
                index and (script[index - 1].isalnum() or script[index - 1] == "_")):
            close = script.find(match.group(0), match.end())
            end = length if close < 0 else close + len(match.group(0))
            bodies.append((index, end))
            index = end
        else:
            index += 1
    return bodies
