"""PostgreSQL's lexical rules, for splitting change scripts and translating placeholders.

A hand-written character scanner, not a regex splitter and not a library:

* sqlparse (evaluated, 0.6) splits `SELECT 1 /* a /* b */ ; c */; SELECT 2` inside the
  nested comment and reads `'a\\'` as an unterminated string (it applies backslash escapes
  to standard strings, which PostgreSQL does not since `standard_conforming_strings`
  became the default), merging the statements that follow. Both are common in real
  scripts, and a splitter that merges or cuts statements runs the wrong SQL.
* sqlglot tokenizes PostgreSQL correctly but is a large parser for one small question
  (where does a statement end?), and setright keeps its dependency list short.

The scanner knows what psql's own lexer knows: standard `'…'` strings (`''` escapes a
quote, a backslash is an ordinary character), `E'…'` strings with backslash escapes,
`"quoted identifiers"`, dollar-quoted bodies (`$$ … $$`, `$fn$ … $fn$`; `$1` is a
parameter and `a$b` an identifier), `--` comments and nested `/* /* */ */` comments. Like
psql, a `;` inside parentheses (a rule's action list) or inside the `BEGIN ATOMIC … END`
body of a `CREATE [OR REPLACE] FUNCTION|PROCEDURE` does not end the statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

#: Token kinds. Strings, dollar bodies and quoted identifiers are opaque to every caller.
SPACE, COMMENT, STRING, QUOTED, WORD, SEMI, OTHER = (
    "space", "comment", "string", "quoted", "word", "semi", "other")


@dataclass(frozen=True)
class Token:
    kind: str
    start: int
    end: int


def _ident_start(char: str) -> bool:
    return char.isalpha() or char == "_" or ord(char) >= 0x80


def _ident_char(char: str) -> bool:
    return char.isalnum() or char in "_$" or ord(char) >= 0x80


def tokens(text: str) -> Iterator[Token]:
    """Every token of `text`, in order; unterminated strings and comments run to the end."""
    i, n = 0, len(text)
    while i < n:
        kind, j = _token_at(text, i)
        yield Token(kind, i, j)
        i = j


def _token_at(text: str, i: int) -> tuple[str, int]:
    n = len(text)
    c = text[i]
    if c.isspace():
        j = i + 1
        while j < n and text[j].isspace():
            j += 1
        return SPACE, j
    if text.startswith("--", i):
        j = text.find("\n", i)
        return COMMENT, n if j < 0 else j
    if text.startswith("/*", i):
        return COMMENT, _block_comment_end(text, i)
    if c == "'":
        return STRING, _quoted_end(text, i + 1, "'", backslash=False)
    if c == '"':
        return QUOTED, _quoted_end(text, i + 1, '"', backslash=False)
    if c == "$":
        j = _dollar_end(text, i)
        return (STRING, j) if j else (OTHER, _param_end(text, i))
    if _ident_start(c):
        j = i + 1
        while j < n and _ident_char(text[j]):
            j += 1
        if j == i + 1 and c in "eE" and j < n and text[j] == "'":
            return STRING, _quoted_end(text, j + 1, "'", backslash=True)
        return WORD, j
    if c.isdigit():
        j = i + 1
        while j < n and (text[j].isalnum() or text[j] in "._"):
            j += 1
        return OTHER, j
    return (SEMI if c == ";" else OTHER), i + 1


def _block_comment_end(text: str, start: int) -> int:
    depth, i, n = 1, start + 2, len(text)
    while i < n:
        if text.startswith("/*", i):
            depth += 1
            i += 2
        elif text.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return n


def _quoted_end(text: str, i: int, quote: str, *, backslash: bool) -> int:
    n = len(text)
    while i < n:
        c = text[i]
        if backslash and c == "\\":
            i += 2
        elif c == quote:
            if i + 1 < n and text[i + 1] == quote:
                i += 2
            else:
                return i + 1
        else:
            i += 1
    return n


def _dollar_end(text: str, start: int) -> int:
    """End of the dollar-quoted string opening at `start`, or 0 when `$` opens none."""
    n = len(text)
    j = start + 1
    if j < n and _ident_start(text[j]):
        j += 1
        while j < n and (_ident_char(text[j]) and text[j] != "$"):
            j += 1
    if j >= n or text[j] != "$":
        return 0
    delimiter = text[start:j + 1]
    close = text.find(delimiter, j + 1)
    return n if close < 0 else close + len(delimiter)


def _param_end(text: str, start: int) -> int:
    j = start + 1
    while j < len(text) and text[j].isdigit():
        j += 1
    return j


# -- statements -------------------------------------------------------------


def split_statements(script: str) -> list[str]:
    """The statements of `script`, in order, each stripped of surrounding blank space.

    Same contract as the SQLite splitter (`db/sqlite_lexer.py`): a `--` comment on the line of
    a statement's `;` stays with it, text after the last `;` is one final statement, and
    pieces holding only blank space, comments and `;` are dropped.
    """
    statements: list[str] = []
    start = 0
    state = _Depth()
    for token in tokens(script):
        if token.kind == SEMI and state.closed():
            end = _end_of_trailing_comment(script, token.end)
            _keep(statements, script[start:end])
            start = end
            state = _Depth()
        elif token.start >= start:
            state.feed(script, token)
    if start < len(script):
        _keep(statements, script[start:])
    return statements


class _Depth:
    """Parentheses and `BEGIN … END` nesting of one statement (psql's heuristic)."""

    def __init__(self) -> None:
        self.parens = 0
        self.blocks = 0
        self.lead: list[str] = []  # the first four words, upper case

    def closed(self) -> bool:
        return self.parens <= 0 and self.blocks <= 0

    def feed(self, text: str, token: Token) -> None:
        if token.kind == OTHER:
            if text[token.start] == "(":
                self.parens += 1
            elif text[token.start] == ")":
                self.parens -= 1
        elif token.kind == WORD:
            word = text[token.start:token.end].upper()
            if len(self.lead) < 4:
                self.lead.append(word)
            if not self._in_routine():
                return
            if word == "BEGIN":
                self.blocks += 1
            elif word == "CASE" and self.blocks:
                self.blocks += 1
            elif word == "END" and self.blocks:
                self.blocks -= 1

    def _in_routine(self) -> bool:
        lead = self.lead
        routine = ("FUNCTION", "PROCEDURE")
        return (len(lead) >= 2 and lead[0] == "CREATE"
                and (lead[1] in routine
                     or (lead[1:3] == ["OR", "REPLACE"] and len(lead) == 4 and lead[3] in routine)))


def _end_of_trailing_comment(script: str, end: int) -> int:
    newline = script.find("\n", end)
    line_end = len(script) if newline < 0 else newline
    if script[end:line_end].lstrip().startswith("--"):
        return line_end
    return end


def _keep(statements: list[str], piece: str) -> None:
    if has_sql(piece):
        statements.append(piece.strip())


def has_sql(piece: str) -> bool:
    """False when `piece` holds nothing but blank space, comments and semicolons."""
    return any(t.kind not in (SPACE, COMMENT, SEMI) for t in tokens(piece))


def words(statement: str) -> list[str]:
    """The statement's keywords and plain identifiers in order, upper case (no strings,
    quoted identifiers, comments or routine bodies)."""
    return [statement[t.start:t.end].upper() for t in tokens(statement) if t.kind == WORD]


def first_keyword(statement: str) -> str:
    """The first keyword outside comments (upper case), skipping opening parentheses;
    '' when the statement starts with anything else (a string, a quoted name)."""
    for token in tokens(statement):
        if token.kind in (SPACE, COMMENT) or statement[token.start:token.end] == "(":
            continue
        return statement[token.start:token.end].upper() if token.kind == WORD else ""
    return ""


def needs_autocommit(statement: str) -> bool:
    """Whether PostgreSQL refuses to run the statement inside a transaction block.

    CREATE/DROP INDEX CONCURRENTLY, REINDEX … CONCURRENTLY (and of a whole schema,
    database or system), VACUUM, CREATE/DROP DATABASE and TABLESPACE, ALTER SYSTEM,
    ALTER DATABASE … SET TABLESPACE, ALTER TABLE … DETACH PARTITION … CONCURRENTLY,
    CLUSTER without a table, DISCARD ALL, CREATE/DROP SUBSCRIPTION (which may create or
    drop a replication slot). A change containing one is non-transactional.
    """
    w = words(statement)
    if not w:
        return False
    head, rest = w[0], w[1:]
    second = rest[0] if rest else ""
    if head == "VACUUM" or (head, second) in {("ALTER", "SYSTEM"), ("DISCARD", "ALL")}:
        return True
    if head in ("CREATE", "DROP") and second in ("DATABASE", "TABLESPACE", "SUBSCRIPTION"):
        return True
    if head == "CREATE":
        after_unique = rest[1:] if second == "UNIQUE" else rest
        return after_unique[:2] == ["INDEX", "CONCURRENTLY"]
    if head == "DROP":
        return rest[:2] == ["INDEX", "CONCURRENTLY"]
    if head == "REINDEX":
        return "CONCURRENTLY" in rest or bool({"SCHEMA", "DATABASE", "SYSTEM"} & set(rest[:3]))
    if head == "ALTER" and second == "DATABASE":
        return "TABLESPACE" in rest
    if head == "ALTER" and second == "TABLE":
        return "DETACH" in rest and "CONCURRENTLY" in rest
    if head == "CLUSTER":
        return rest in ([], ["VERBOSE"])
    return False


def concurrent_index(statement: str) -> tuple[str, str] | None:
    """("create" | "drop", index name) of `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT
    EXISTS] name ON …` or `DROP INDEX CONCURRENTLY [IF EXISTS] name [CASCADE|RESTRICT]`;
    None for anything else, a quoted or qualified name, or an index without a name, so
    a crash is only ever settled from the catalog when the name is certain."""
    toks = [t for t in tokens(statement) if t.kind not in (SPACE, COMMENT, SEMI)]
    text = [statement[t.start:t.end] for t in toks]
    kinds = [t.kind for t in toks]
    upper = [w.upper() for w in text]

    def name_at(i: int) -> str | None:
        if i < len(toks) and kinds[i] == WORD and (i + 1 == len(toks) or text[i + 1] != "."):
            return text[i]
        return None

    if upper[:1] == ["CREATE"]:
        i = 2 if upper[1:2] == ["UNIQUE"] else 1
        if upper[i:i + 2] != ["INDEX", "CONCURRENTLY"]:
            return None
        i += 2
        if upper[i:i + 3] == ["IF", "NOT", "EXISTS"]:
            i += 3
        name = name_at(i)
        return ("create", name) if name and upper[i + 1:i + 2] == ["ON"] else None
    if upper[:3] == ["DROP", "INDEX", "CONCURRENTLY"]:
        i = 5 if upper[3:5] == ["IF", "EXISTS"] else 3
        name = name_at(i)
        rest = upper[i + 1:]
        return ("drop", name) if name and rest in ([], ["CASCADE"], ["RESTRICT"]) else None
    return None


# -- placeholders -----------------------------------------------------------


def translate_placeholders(sql: str) -> tuple[str, int]:
    """setright's `?` placeholders as psycopg's `%s`, and every literal `%` as `%%`.

    A `?` inside a string, a quoted identifier, a dollar body or a comment is text. (So
    setright's own SQL never uses PostgreSQL's jsonb `?`, `?|`, `?&` operators; change
    scripts are never translated — they run without parameters.) Returns the text and
    the number of placeholders.
    """
    out: list[str] = []
    count = 0
    for token in tokens(sql):
        piece = sql[token.start:token.end]
        if token.kind == OTHER and piece == "?":
            out.append("%s")
            count += 1
        else:
            out.append(piece.replace("%", "%%"))
    return "".join(out), count
