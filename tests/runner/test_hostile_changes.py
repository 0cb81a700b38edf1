"""Hostile change files through the real CLI: `status` and `run` refuse them at load (§9.2).

The project's store holds applies, an issue and a ledger row, and the target
has data; a refused change file must leave every row of both as it was, and
`run` must not execute a single statement of any change.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hostilehelp import (
    SECRET, Case, base_project, bomb, check, fresh, invoke, nested, place, replace_line, state,
    truncations, wrong_types,
)

CHANGE = "changes/app/_0005__hostile.yaml"

GOOD = """\
id: hostile
author: platform-team
targetSystem: {id: app}
transactional: true
recovery: {strategy: MANUAL_INTERVENTION}
template: sql-template
apply: |
  INSERT INTO t VALUES (10, 'x');
  INSERT INTO t VALUES (11, 'y');
rollback: "DELETE FROM t WHERE id >= 10"
"""

STEPS = """\
id: hostile
steps:
  - apply: INSERT INTO t VALUES (10, 'x')
    rollback: DELETE FROM t WHERE id = 10
  - apply: |
      INSERT INTO t VALUES (11, 'y');
      INSERT INTO t VALUES (12, 'z');
    rollback: DELETE FROM t WHERE id >= 11
"""


def _apply(sql: str) -> str:
    """GOOD with its `apply: |` block (line 7; statements from line 8) replaced by `sql`."""
    body = "".join(f"  {line}\n" for line in sql.split("\n"))
    return GOOD.replace("  INSERT INTO t VALUES (10, 'x');\n  INSERT INTO t VALUES (11, 'y');\n",
                        body)


#: Statements that take transaction control; each must be refused at the line given.
TX_CONTROL = [
    ("commit-between", "INSERT INTO t VALUES (10, 'x');\nCOMMIT;\nINSERT INTO t VALUES (11, 'y');",
     9),
    ("begin", "BEGIN;\nINSERT INTO t VALUES (10, 'x');", 8),
    ("begin-transaction", "BEGIN TRANSACTION;", 8),
    ("begin-immediate", "INSERT INTO t VALUES (10, 'x');\nBEGIN IMMEDIATE;", 9),
    ("begin-deferred-lower", "begin deferred transaction;", 8),
    ("start-transaction", "START TRANSACTION;", 8),
    ("start-transaction-ws", "START\n  TRANSACTION READ WRITE;", 8),
    ("commit-work", "COMMIT WORK;", 8),
    ("commit-no-semicolon", "INSERT INTO t VALUES (10, 'x');\nCOMMIT", 9),
    ("end", "INSERT INTO t VALUES (10, 'x');\nEND;", 9),
    ("end-transaction", "END TRANSACTION;", 8),
    ("rollback", "ROLLBACK;", 8),
    ("rollback-to", "SAVEPOINT a;\nROLLBACK TO a;", 8),
    ("abort", "INSERT INTO t VALUES (10, 'x');\n\nABORT;", 10),
    ("savepoint", "INSERT INTO t VALUES (10, 'x');\nsavepoint s1;", 9),
    ("release", "RELEASE s1;", 8),
    ("release-savepoint", "RELEASE SAVEPOINT s1;", 8),
    ("xa", "XA START 'x';", 8),
    ("set-autocommit", "SET autocommit = 0;", 8),
    ("set-autocommit-lower", "INSERT INTO t VALUES (10, 'x');\nset AUTOCOMMIT=1;", 9),
    ("set-session-autocommit", "SET SESSION autocommit = 0;", 8),
    ("lock-tables", "LOCK TABLES t WRITE;", 8),
    ("comment-then-commit", "-- done with the first batch\nCOMMIT;", 9),
    ("block-comment-commit", "/* the\n   end */ COMMIT;", 9),
    ("comment-same-line", "INSERT INTO t VALUES (10, 'x'); -- one\nCOMMIT; -- two", 9),
    ("commit-after-trigger",
     "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET v = 'q';\nEND;\nCOMMIT;", 11),
    ("commit-after-string", "INSERT INTO t VALUES (10, 'a;b');\nCOMMIT;", 9),
]

TX_CASES: list[Case] = [
    *(Case(f"tx-{name}", _apply(sql), line=line) for name, sql, line in TX_CONTROL),
    Case("tx-plain-scalar", replace_line(replace_line(replace_line(GOOD, 9, ""), 8, ""), 7,
                                         "apply: COMMIT"), line=7),
    Case("tx-quoted-scalar", replace_line(replace_line(replace_line(GOOD, 9, ""), 8, ""), 7,
                                          'apply: "INSERT INTO t VALUES (1, 2); COMMIT;"'),
         line=7),
    Case("tx-in-rollback", replace_line(GOOD, 10, 'rollback: "DELETE FROM t; COMMIT;"'), line=10),
    Case("tx-in-step-apply", STEPS.replace("INSERT INTO t VALUES (12, 'z');", "COMMIT;"), line=7),
    Case("tx-in-step-rollback", STEPS.replace("rollback: DELETE FROM t WHERE id = 10",
                                              "rollback: ROLLBACK"), line=4),
    Case("tx-in-step-rollback-block", STEPS.replace(
        "    rollback: DELETE FROM t WHERE id >= 11",
        "    rollback: |\n      DELETE FROM t WHERE id >= 11;\n      END;"), line=10),
]

LISTS = ["[a, b]", "{a: 1}"]
CHANGE_CASES: list[Case] = [
    *TX_CASES,
    *wrong_types(GOOD, {
        "id": (1, "id", [*LISTS, "7", "~", "true", '""', '" x"', '"a\\nb"', f'"{SECRET}\\n"',
                         '"a\\e[2Jb"', '"a\\rb"', '"a\\u202eb"', '"a\\u200bb"', '"a\\x85b"',
                         "é" * 256]),   # longer than a store's or a marker's VARCHAR(255)
        "author": (2, "author", [*LISTS, "7", "true", '"a\\e[1mb"', '"a\\nError: b"']),
        "targetSystem": (3, "targetSystem", ["other", "{id: other}", "{id: 7}", "{}", "7", "[app]",
                                             "{id: app, x: 1}", '""']),
        "transactional": (4, "transactional", ["maybe", "7", "[true]", "!!bool maybe", '"true"']),
        "recovery": (5, "recovery", ["SOMETIMES", "{strategy: NOPE}", "{}", "7", "[a]",
                                     "{strategy: ALWAYS_RETRY, x: 1}", SECRET]),
        "template": (6, "template", ["!!python/object:os.system x", "!custom x", "!!int x"]),
        "rollback": (10, "rollback", ["7", "[a]", '""', '"-- only a comment"', "~"]),
    }),
    *(Case(f"type-apply-{i}", GOOD.replace(GOOD.split("\n", 6)[6].split("rollback")[0],
                                           f"apply: {value}\n"), line=7)
      for i, value in enumerate(["7", "[a]", "{a: 1}", "~", '""', '"-- nothing"', "true"])),
    Case("recovery-trailing-newline", replace_line(GOOD, 5, 'recovery: "ALWAYS_RETRY\\n"'), line=5),
    Case("strategy-trailing-newline",
         replace_line(GOOD, 5, 'recovery: {strategy: "ALWAYS_RETRY\\n"}'), line=5),
    Case("target-trailing-newline", replace_line(GOOD, 3, 'targetSystem: "app\\n"'), line=3),
    Case("no-apply", "id: hostile\n", line=1),
    Case("steps-and-apply", STEPS + "apply: SELECT 1\n", line=9),
    Case("steps-empty", "id: hostile\nsteps: []\n", line=2),
    Case("steps-not-list", "id: hostile\nsteps: {apply: x}\n", line=2),
    Case("step-not-map", "id: hostile\nsteps: [7]\n", line=2),
    Case("step-no-apply", "id: hostile\nsteps: [{rollback: x}]\n", line=2),
    Case("step-apply-int", "id: hostile\nsteps:\n  - apply: 7\n", line=3),
    Case("unknown-key", GOOD + "extra: 1\n", line=11),
    *(Case(f"non-text-key-{i}", GOOD + f"{key}: 1\n", line=11)
      for i, key in enumerate(["~", "7", "1.5", "true", "? "])),
    Case("anchored-null-key-alone", "&id:", line=1),
    Case("dup-key", GOOD + "id: again\n", line=11),
    Case("dup-id-other-file", GOOD.replace("id: hostile", "id: seed"), line=1),
    # tags and aliases
    Case("tag-int-x", replace_line(GOOD, 1, "id: !!int x"), line=1),
    Case("tag-float-x", replace_line(GOOD, 1, "id: !!float x"), line=1),
    Case("tag-bool-maybe", replace_line(GOOD, 4, "transactional: !!bool maybe"), line=4),
    Case("tag-python", replace_line(GOOD, 2, "author: !!python/object/apply:os.getcwd []"), line=2),
    Case("tag-custom", replace_line(GOOD, 2, "author: !me x"), line=2),
    Case("bad-date", replace_line(GOOD, 2, "author: 2026-02-30"), line=2),
    Case("bomb", GOOD.replace("template: sql-template\n", bomb(key="template")),
         line=None),
    Case("bomb-top", bomb(key="anchors") + GOOD, line=None),
    Case("recursive", replace_line(GOOD, 6, "template: &a [*a]"), line=6),
    Case("recursive-map", replace_line(GOOD, 6, "template: &a {x: *a}"), line=6),
    Case("deep", replace_line(GOOD, 6, "template: " + nested(100_000)), line=6),
    Case("deep-150", replace_line(GOOD, 6, "template: " + nested(150)), line=6),
    # bytes and encodings
    Case("nul-in-sql", GOOD.replace("(11, 'y')", "(11, 'y\0')"), line=9),
    # a NUL by escape, which YAML admits: refused at load, not at run time three times over
    Case("nul-escape-in-sql", replace_line(GOOD, 10, 'rollback: "DELETE FROM t;\\0"'), line=10),
    Case("non-utf8", GOOD.encode().replace(b"'y'", b"'\xff'")),
    Case("empty", ""),
    Case("comments-only", "# nothing\n"),
    Case("multi-doc", GOOD + "---\n" + GOOD, line=11),
    Case("top-list", "- id: hostile\n", line=1),
    Case("top-secret", SECRET + "\n", line=1, secret=True),
    Case("tab-indent", GOOD.replace("  INSERT INTO t VALUES (10", "\tINSERT INTO t VALUES (10"),
         line=None),
    Case("bom", "\ufeff" + GOOD, bad=False),
    Case("crlf", GOOD.replace("\n", "\r\n"), bad=False),
    Case("unicode-id", replace_line(GOOD, 1, "id: 'ché-变更-🙂'"), bad=False),
    Case("quote-id", replace_line(GOOD, 1, "id: \"it's \\\"q\\\"\""), bad=False),
    Case("huge-sql", _apply("INSERT INTO t VALUES (10, '" + "x" * 1_000_000 + "');"), bad=False),
    *(Case(f"truncated-{offset}", text, bad=False) for offset, text in truncations(GOOD, 9)),
]

#: Transaction control inside routine bodies, strings and comments is not transaction control.
ALLOWED_SQL = [
    ("trigger", "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET v = 'q';\nEND;"),
    ("trigger-lower", "create trigger tr2 before delete on t begin select 1; end;"),
    ("string", "INSERT INTO t VALUES (10, 'COMMIT;');"),
    ("string-leading", "INSERT INTO t VALUES (10, '\nBEGIN;');"),
    ("comment-line", "-- COMMIT;\nINSERT INTO t VALUES (10, 'x');"),
    ("comment-block", "/* BEGIN; */ INSERT INTO t VALUES (10, 'x');"),
    ("identifier", 'CREATE TABLE "commit" (begin_at TEXT);'),
    ("column-end", "UPDATE t SET v = 'END' WHERE id = 1;"),
    ("select-case-end", "SELECT CASE WHEN 1 THEN 2 END;"),
    ("settings-table", "CREATE TABLE settings (k TEXT);"),
    ("beginning-word", "CREATE TABLE beginnings (x);"),
    ("set-other", "UPDATE t SET autocommit_note = 1 WHERE 0;"),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile-changes") / "base"
    base_project(root)
    return root


@pytest.mark.parametrize("case", CHANGE_CASES, ids=lambda c: c.id)
def test_hostile_change_file(case: Case, template: Path, tmp_path: Path) -> None:
    project = fresh(template, tmp_path / "p")
    place(project, CHANGE, case)
    before = state(project)
    for command in (("status",), ("run",)) if case.bad else (("status",),):
        check(case, invoke(project, *command), CHANGE)
    assert state(project) == before, f"STATE {case.id}"


def test_symlinked_change_file_outside_the_project_is_refused(template: Path,
                                                              tmp_path: Path) -> None:
    project = fresh(template, tmp_path / "p")
    case = Case("link-outside", SECRET.encode(), link_to="../outside/secret.txt")
    place(project, CHANGE, case)
    before = state(project)
    for command in (("status",), ("run",)):
        outcome = invoke(project, *command)
        check(case, outcome, CHANGE)
        assert "symbolic link" in outcome.output, outcome.output
    assert state(project) == before


@pytest.mark.parametrize("name,sql", ALLOWED_SQL, ids=[n for n, _ in ALLOWED_SQL])
def test_sql_that_only_mentions_transaction_words_loads(name: str, sql: str, template: Path,
                                                        tmp_path: Path) -> None:
    project = fresh(template, tmp_path / "p")
    place(project, CHANGE, Case(name, _apply(sql), bad=False))
    outcome = invoke(project, "status")
    assert outcome.exit_code == 0, outcome.output
    assert "hostile" in outcome.output


def test_a_change_id_of_255_characters_loads(template: Path, tmp_path: Path) -> None:
    project = fresh(template, tmp_path / "p")
    place(project, CHANGE, Case("id-255", GOOD.replace("id: hostile", "id: " + "é" * 255),
                                bad=False))
    outcome = invoke(project, "status")
    assert outcome.exit_code == 0, outcome.output


def test_refusals_read_well(template: Path, tmp_path: Path, snapshot) -> None:  # type: ignore[no-untyped-def]
    by_id = {c.id: c for c in CHANGE_CASES}
    seen = {}
    for name in ("tx-commit-between", "tx-in-step-rollback-block", "tx-plain-scalar", "bomb",
                 "tag-int-x", "top-secret"):
        project = fresh(template, tmp_path / name)
        place(project, CHANGE, by_id[name])
        seen[name] = invoke(project, "status").output
    assert seen == snapshot
