"""MySQL/MariaDB script lexing: statement splitting, placeholders, first keywords, DDL effects.

A hand-written character scanner, not a regex splitter and not `sqlparse`
(not a project dependency, and it knows neither `DELIMITER` nor MySQL's
`-- ` rule). It follows MySQL's default lexical rules, which setright's
sessions keep (no `ANSI_QUOTES`, no `NO_BACKSLASH_ESCAPES` on targets):

* `'…'` and `"…"` are strings; a backslash escapes the next character and a
  doubled quote is a quote. `` `…` `` is an identifier (a doubled backtick is one).
* `#` and `-- ` (two dashes followed by a blank or a control character, or at
  the end of the text) start a comment to the end of the line; `--x` is not a
  comment. `/* … */` is a comment; versioned comments `/*! … */` and `/*M! … */`
  are SQL the server runs, so they stay in the statement and their words count.
* `DELIMITER xx` on a line of its own (where a statement would start) is the
  `mysql` client's command: it changes the terminator and is not a statement.
* Without `DELIMITER`, the body of `CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT`
  (and MariaDB's `BEGIN NOT ATOMIC`) is kept whole: inside such a statement
  `BEGIN` and `CASE` open a block and a bare `END` (or `END CASE`, `END label`)
  closes one, and `;` only ends the statement outside every block. `END IF`,
  `END LOOP`, `END WHILE`, `END REPEAT` close blocks that need no counting.
  (The `mysql` client itself requires `DELIMITER` for such bodies; setright
  accepts both. A column named `begin` or `case` inside a routine body is the
  one thing this cannot tell apart — use `DELIMITER` there.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

_BLANK = " \t\r\n\f\v"
_ROUTINES = {"PROCEDURE", "FUNCTION", "TRIGGER", "EVENT"}
_QUALIFIED_END = {"IF", "LOOP", "WHILE", "REPEAT", "FOR"}
DDL_KEYWORDS = {"CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE"}
#: statements MySQL and MariaDB commit the open transaction for (their manuals' "statements
#: that cause an implicit commit"), by their first word: DDL, account management and table
#: maintenance; transaction control and `LOCK TABLES` are refused before they run
_COMMITTING_WORDS = DDL_KEYWORDS | {"GRANT", "REVOKE", "ANALYZE", "OPTIMIZE", "REPAIR", "FLUSH",
                                    "INSTALL", "UNINSTALL", "RESET"}
#: … and by their first two words
_COMMITTING_PAIRS = {("CHECK", "TABLE"), ("CHECK", "TABLES"), ("CACHE", "INDEX"),
                     ("LOAD", "INDEX"), ("SET", "PASSWORD"), ("CHANGE", "MASTER"),
                     ("CHANGE", "REPLICATION"), ("START", "SLAVE"), ("START", "REPLICA"),
                     ("STOP", "SLAVE"), ("STOP", "REPLICA")}


def _dash_comment(text: str, i: int) -> bool:
    """`-- ` starts a comment only when a blank or control character (or the end) follows."""
    return text.startswith("--", i) and (i + 2 >= len(text) or text[i + 2] in _BLANK
                                         or ord(text[i + 2]) < 32)


def skip_quoted(text: str, i: int) -> int | None:
    """If a string, backtick identifier or comment opens at `i`, the index just past it."""
    char = text[i]
    n = len(text)
    if char in "'\"":
        j = i + 1
        while j < n:
            if text[j] == "\\":
                j += 2
            elif text[j] == char:
                if j + 1 < n and text[j + 1] == char:
                    j += 2
                else:
                    return j + 1
            else:
                j += 1
        return n
    if char == "`":
        j = i + 1
        while j < n:
            if text[j] == "`":
                if j + 1 < n and text[j + 1] == "`":
                    j += 2
                else:
                    return j + 1
            else:
                j += 1
        return n
    if char == "#" or _dash_comment(text, i):
        newline = text.find("\n", i)
        return n if newline < 0 else newline
    if text.startswith("/*", i):
        close = text.find("*/", i + 2)
        return n if close < 0 else close + 2
    return None


@dataclass(frozen=True)
class Token:
    kind: str   # word | ident | string | number | punct
    text: str   # words as written; identifiers unquoted

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def tokens(statement: str) -> Iterator[Token]:
    """The tokens of one statement; comments skipped, versioned comments read through."""
    i, n = 0, len(statement)
    while i < n:
        char = statement[i]
        if char in _BLANK:
            i += 1
            continue
        if statement.startswith("/*!", i) or statement.startswith("/*M!", i):
            i += 4 if statement[i + 2] == "M" else 3
            while i < n and statement[i].isdigit():
                i += 1  # the version number
            continue
        if statement.startswith("*/", i):
            i += 2  # the end of a versioned comment we are reading through
            continue
        end = skip_quoted(statement, i)
        if end is not None:
            body = statement[i:end]
            if char == "`":
                yield Token("ident", body[1:-1].replace("``", "`"))
            elif char in "'\"":
                yield Token("string", body)
            i = end
            continue
        if char.isalnum() or char in "_$" or ord(char) > 127:
            j = i
            while j < n and (statement[j].isalnum() or statement[j] in "_$"
                             or ord(statement[j]) > 127):
                j += 1
            word = statement[i:j]
            yield Token("number" if word.isdigit() else "word", word)
            i = j
            continue
        yield Token("punct", char)
        i += 1


def _words(statement: str) -> Iterator[str]:
    return (t.upper for t in tokens(statement) if t.kind == "word")


def first_keyword(statement: str) -> str:
    """The statement's first word, upper-cased, outside comments ('' if none)."""
    return next(_words(statement), "")


def commits_implicitly(statement: str) -> bool:
    """Whether MySQL commits the open transaction when it runs `statement`: DDL
    (CREATE/ALTER/DROP/RENAME/TRUNCATE), GRANT and REVOKE, ANALYZE/OPTIMIZE/REPAIR/CHECK
    TABLE, FLUSH and the rest of `_COMMITTING_WORDS` and `_COMMITTING_PAIRS`. The server
    does not always say so afterwards (MariaDB's ANALYZE TABLE leaves its in-transaction
    flag set), so the runner must know before it runs one."""
    words = _words(statement)
    first = next(words, "")
    return first in _COMMITTING_WORDS or (first, next(words, "")) in _COMMITTING_PAIRS


_CREATE_KINDS = _ROUTINES | {"TABLE", "VIEW", "INDEX", "DATABASE", "SCHEMA", "USER", "ROLE",
                             "SEQUENCE", "SERVER", "TABLESPACE", "TEMPORARY", "UNIQUE",
                             "FULLTEXT", "SPATIAL", "PACKAGE"}


def _is_compound(words: list[str]) -> bool:
    """A routine/trigger/event definition or `BEGIN NOT ATOMIC`: its body holds `;`s."""
    if words[:3] == ["BEGIN", "NOT", "ATOMIC"]:
        return True
    if not words or words[0] != "CREATE":
        return False
    kind = next((w for w in words[1:] if w in _CREATE_KINDS), None)
    return kind in _ROUTINES


def split_statements(script: str) -> list[str]:
    """The statements of `script` in order, stripped; DELIMITER lines and empty pieces dropped."""
    statements: list[str] = []
    delimiter = ";"
    start = i = 0
    n = len(script)
    words: list[str] = []     # the statement's first upper-cased words (compound detection)
    compound = False
    depth = 0
    last_end = False          # the previous word was END (its qualifier decides)
    while i < n:
        char = script[i]
        if char in "dD" and _at_line_start(script, i) and not _has_sql(script[start:i]):
            command = _delimiter_command(script, i)
            if command is not None:
                delimiter, i = command
                start = i
                words, compound, depth, last_end = [], False, 0, False
                continue
        if script.startswith(delimiter, i) and (depth == 0 or delimiter != ";"):
            _keep(statements, script[start:i])
            i += len(delimiter)
            start = i
            words, compound, depth, last_end = [], False, 0, False
            continue
        if script.startswith("/*!", i) or script.startswith("/*M!", i):
            i += 3  # a versioned comment is SQL: read on inside it
            continue
        end = skip_quoted(script, i)
        if end is not None:
            i = end
            continue
        if char.isalpha() or char == "_":
            j = i + 1
            while j < n and (script[j].isalnum() or script[j] in "_$") \
                    and not script.startswith(delimiter, j):
                j += 1  # a delimiter ends a word too: `END$$`
            word = script[i:j].upper()
            i = j
            if len(words) < 12 and not compound:
                words.append(word)
                compound = delimiter == ";" and _is_compound(words)
                if compound and words[0] == "BEGIN":
                    depth = 1  # BEGIN NOT ATOMIC opened the block
                    continue
            if not compound:
                continue
            if last_end:
                last_end = False
                if word in _QUALIFIED_END or word == "CASE":
                    if word != "CASE":
                        depth += 1  # END IF / END LOOP …: not a block we counted
                    continue
            if word in ("BEGIN", "CASE"):
                depth += 1
            elif word == "END":
                depth = max(depth - 1, 0)
                last_end = True
            continue
        if last_end and char not in _BLANK:
            last_end = False
        i += 1
    _keep(statements, script[start:])
    return statements


def _at_line_start(script: str, i: int) -> bool:
    line_start = script.rfind("\n", 0, i) + 1
    return script[line_start:i].strip(_BLANK) == ""


def _delimiter_command(script: str, i: int) -> tuple[str, int] | None:
    """`DELIMITER xx` at `i`: the new delimiter and the index after the line."""
    if not script[i:i + 10].upper().startswith("DELIMITER") or \
            script[i + 9:i + 10] not in (" ", "\t"):
        return None
    newline = script.find("\n", i)
    line_end = len(script) if newline < 0 else newline
    value = script[i + 9:line_end].strip(_BLANK)
    if not value:
        return None
    value = value.split()[0]
    return value, line_end


def _has_sql(piece: str) -> bool:
    i, n = 0, len(piece)
    while i < n:
        if piece[i] in _BLANK:
            i += 1
            continue
        if piece.startswith("/*!", i) or piece.startswith("/*M!", i):
            return True
        end = skip_quoted(piece, i)
        if end is not None and piece[i] not in "'\"`":
            i = end
            continue
        return True
    return False


def _keep(statements: list[str], piece: str) -> None:
    if _has_sql(piece):
        statements.append(piece.strip(_BLANK))


@lru_cache(maxsize=1024)
def translate_placeholders(sql: str) -> str:
    """`?` → `%s` outside strings, identifiers and comments; every literal `%` → `%%`."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        end = skip_quoted(sql, i)
        if end is not None:
            out.append(sql[i:end].replace("%", "%%"))
            i = end
            continue
        char = sql[i]
        out.append("%s" if char == "?" else "%%" if char == "%" else char)
        i += 1
    return "".join(out)


# -- what a simple DDL statement does -------------------------------------------


@dataclass(frozen=True)
class DdlEffect:
    """What one simple DDL statement changes, so a crash before its marker can be settled."""

    kind: str                 # create_table | drop_table | add_column | drop_column |
    #                           create_index | drop_index
    table: str
    name: str | None = None   # the column or index
    schema: str | None = None  # a qualified table's database (None: the current one)


def ddl_effect(statement: str) -> DdlEffect | None:
    """The effect of CREATE/DROP TABLE, ALTER TABLE ADD/DROP [COLUMN], CREATE/DROP INDEX.

    Anything else — several tables or alterations in one statement, OR REPLACE,
    TEMPORARY, ADD INDEX/CONSTRAINT, a parse this cannot be sure of — is None:
    unknown, never a guess."""
    toks = list(tokens(statement))
    while toks and toks[-1].kind == "punct" and toks[-1].text == ";":
        toks.pop()
    parser = _Parser(toks)
    try:
        return parser.effect()
    except _NoEffect:
        return None


class _NoEffect(Exception):
    pass


class _Parser:
    def __init__(self, toks: list[Token]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self, ahead: int = 0) -> str:
        j = self.i + ahead
        return self.toks[j].upper if j < len(self.toks) else ""

    def take(self, *words: str) -> bool:
        """Consume `words` if they come next."""
        if all(self.peek(k) == w for k, w in enumerate(words)):
            self.i += len(words)
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.take(*words):
            raise _NoEffect

    def name(self) -> str:
        if self.i >= len(self.toks) or self.toks[self.i].kind not in ("word", "ident"):
            raise _NoEffect
        token = self.toks[self.i]
        self.i += 1
        return token.text

    def table(self) -> tuple[str | None, str]:
        first = self.name()
        if self.i < len(self.toks) and self.toks[self.i].text == "." \
                and self.toks[self.i].kind == "punct":
            self.i += 1
            return first, self.name()
        return None, first

    def only_alteration(self) -> None:
        """Keep the one alteration; ALGORITHM= and LOCK= options may sit beside it."""
        parts: list[list[Token]] = [[]]
        depth = 0
        for token in self.toks[self.i:]:
            if token.kind == "punct":
                depth += {"(": 1, ")": -1}.get(token.text, 0)
                if token.text == "," and depth == 0:
                    parts.append([])
                    continue
            parts[-1].append(token)
        kept = [p for p in parts if not (p and p[0].upper in ("ALGORITHM", "LOCK"))]
        if len(kept) != 1:
            raise _NoEffect  # several alterations (or none)
        self.toks = self.toks[:self.i] + kept[0]

    def at_end(self) -> bool:
        return self.i >= len(self.toks)

    def effect(self) -> DdlEffect:
        if self.take("CREATE"):
            if self.take("TABLE"):
                self.take("IF", "NOT", "EXISTS")
                schema, table = self.table()
                return DdlEffect("create_table", table, schema=schema)
            self.take("UNIQUE") or self.take("FULLTEXT") or self.take("SPATIAL")
            self.expect("INDEX")
            self.take("IF", "NOT", "EXISTS")
            index = self.name()
            if self.take("USING"):
                self.name()
            self.expect("ON")
            schema, table = self.table()
            return DdlEffect("create_index", table, index, schema)
        if self.take("DROP"):
            if self.take("TABLE"):
                self.take("IF", "EXISTS")
                schema, table = self.table()
                if not self.at_end() and self.peek() not in ("RESTRICT", "CASCADE"):
                    raise _NoEffect  # several tables
                return DdlEffect("drop_table", table, schema=schema)
            self.expect("INDEX")
            self.take("IF", "EXISTS")
            index = self.name()
            self.expect("ON")
            schema, table = self.table()
            return DdlEffect("drop_index", table, index, schema)
        self.expect("ALTER")
        self.take("ONLINE")
        self.take("IGNORE")
        self.expect("TABLE")
        schema, table = self.table()
        self.only_alteration()
        if self.take("ADD"):
            self.take("COLUMN")
            if self.peek() in ("INDEX", "KEY", "CONSTRAINT", "PRIMARY", "UNIQUE", "FULLTEXT",
                               "SPATIAL", "FOREIGN", "CHECK", "PERIOD", "SYSTEM") \
                    or (self.i < len(self.toks) and self.toks[self.i].text == "("):
                raise _NoEffect
            self.take("IF", "NOT", "EXISTS")
            return DdlEffect("add_column", table, self.name(), schema)
        self.expect("DROP")
        self.take("COLUMN")
        if self.peek() in ("INDEX", "KEY", "CONSTRAINT", "PRIMARY", "FOREIGN", "CHECK",
                           "PARTITION", "PERIOD", "SYSTEM"):
            raise _NoEffect
        self.take("IF", "EXISTS")
        column = self.name()
        self.take("RESTRICT") or self.take("CASCADE")
        if not self.at_end():
            raise _NoEffect
        return DdlEffect("drop_column", table, column, schema)
