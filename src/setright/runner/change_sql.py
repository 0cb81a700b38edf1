"""The checks of a change file's SQL, on statements split once per text.

Loading a change asks three things of each SQL text: does it take transaction
control, can it share one transaction with its marker, and what are its
operations. All three need the text's statements as the target's dialect
splits them; a `ScriptSplitter` splits each text once and hands the same spans
to every question (lexing a 10,000-statement script is most of loading it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from setright.db import DefaultImpl
from setright.errors import Problem
from setright.runner.sql import has_sql, statement_head, statement_spans, transaction_control
from setright.yamlfile import YamlDocument, json_path

SqlPlace = tuple[str | int, ...]  # where a SQL text is in the document: ("steps", 0, "apply")


class ScriptSplitter:
    """The target dialect's statements of each text, split once (SQLite's without an impl)."""

    def __init__(self, impl: DefaultImpl | None) -> None:
        self.impl = impl
        self._spans: dict[str, list[tuple[int, str]]] = {}

    def spans(self, text: str) -> list[tuple[int, str]]:
        """(offset in `text`, statement) of every statement of `text`."""
        known = self._spans.get(text)
        if known is None:
            known = statement_spans(text) if self.impl is None else self.impl.statement_spans(text)
            self._spans[text] = known
        return known

    def statements(self, text: str) -> list[str]:
        """The statements of `text`, as `impl.split_statements` gives them."""
        return [statement for _, statement in self.spans(text)]


def sql_texts(data: dict[str, Any]) -> Iterable[tuple[SqlPlace, Any]]:
    """Every apply/rollback value of a change document, with where it is."""
    steps = data.get("steps")
    if "steps" not in data:  # next to steps, apply/rollback are already reported
        for key in ("apply", "rollback"):
            if key in data:
                yield (key,), data[key]
    if isinstance(steps, list):
        for index, step in enumerate(steps):
            if isinstance(step, dict):
                for key in ("apply", "rollback"):
                    if key in step:
                        yield ("steps", index, key), step[key]


def sql_problems(doc: YamlDocument, splitter: ScriptSplitter) -> list[Problem]:
    """SQL holding a NUL, SQL that is only comments, and SQL that takes transaction control
    (the runner owns transactions: a `COMMIT` between two statements would commit behind
    its back, and no marker would say so)."""
    problems: list[Problem] = []
    for where, text in sql_texts(doc.data):
        if isinstance(text, str) and "\x00" in text:   # a "\0" escape in a quoted scalar
            problems.append(doc.problem(where, "holds a NUL character, which no database "
                                               "accepts in a statement"))
        elif isinstance(text, str) and text.strip() and not has_sql(text):
            problems.append(doc.problem(where, "no SQL statement here, only comments"))
        elif isinstance(text, str):
            problems.extend(_transaction_problems(doc, where, text, splitter))
    return problems


def _transaction_problems(doc: YamlDocument, where: SqlPlace, text: str,
                          splitter: ScriptSplitter) -> list[Problem]:
    """One problem per statement whose first keyword is BEGIN, COMMIT, SAVEPOINT, ...,
    located at the keyword's line in the file."""
    problems = []
    for offset, keyword in transaction_control(text, spans=splitter.spans(text)):
        line, column = _locate(doc, where, text, offset)
        problems.append(Problem(
            doc.source, line, column, json_path(where),
            f"{keyword} takes transaction control, which setright's runner owns: remove it "
            f"(a transactional change runs in one transaction; transactional: false commits "
            f"each statement)"))
    return problems


def outside_transaction(doc: YamlDocument, splitter: ScriptSplitter) -> Problem | None:
    """The first apply statement that cannot share a transaction with its marker on the
    target's database, located at its keyword: a statement PostgreSQL refuses inside a
    transaction, or DDL, which MySQL commits implicitly. Its change runs
    non-transactionally (statement by statement, a marker after each) — in one
    transaction it would either fail or be reported "rolled back" after it committed."""
    impl = splitter.impl
    if impl is None:
        return None
    for where, text in sql_texts(doc.data):
        if where[-1] != "apply" or not isinstance(text, str):
            continue
        for offset, statement in splitter.spans(text):
            if impl.needs_autocommit(statement):
                why = "cannot run inside a transaction"
            elif impl.commits_implicitly(statement):
                why = "commits implicitly on this database"
            else:
                continue
            skip, head = statement_head(statement)
            line, column = _locate(doc, where, text, offset + skip)
            return Problem(doc.source, line, column, json_path(where),
                           f"{head} {why}: this change runs non-transactionally (statement "
                           "by statement, a marker after each), whatever 'transactional' says")
    return None


def _locate(doc: YamlDocument, where: SqlPlace, text: str,
            offset: int) -> tuple[int | None, int | None]:
    """The file's line and column of `offset` in the SQL text at `where`."""
    before = text[:offset]
    return doc.locate_text(where, before.count("\n"), offset - (before.rfind("\n") + 1))
