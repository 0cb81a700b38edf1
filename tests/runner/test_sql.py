"""Statement splitting and statement hashes."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from setright.runner.sql import has_sql, normalise, split_statements, statement_hash

TRIGGER = """CREATE TRIGGER audit_users AFTER INSERT ON users
BEGIN
  INSERT INTO log(msg) VALUES ('new user; id=' || NEW.id);
  UPDATE counters SET n = n + 1 WHERE name = 'users';
END;"""


def test_splits_statements_in_order() -> None:
    script = "CREATE TABLE a(x);\nINSERT INTO a VALUES (1);\n\nINSERT INTO a VALUES (2);\n"
    assert split_statements(script) == [
        "CREATE TABLE a(x);",
        "INSERT INTO a VALUES (1);",
        "INSERT INTO a VALUES (2);",
    ]


def test_splits_statements_sharing_a_line() -> None:
    assert split_statements("SELECT 1; SELECT 2;SELECT 3;") == ["SELECT 1;", "SELECT 2;", "SELECT 3;"]


def test_trigger_body_stays_one_statement() -> None:
    script = f"CREATE TABLE users(id INTEGER);\n{TRIGGER}\nINSERT INTO users VALUES (1);"
    assert split_statements(script) == [
        "CREATE TABLE users(id INTEGER);",
        TRIGGER,
        "INSERT INTO users VALUES (1);",
    ]


def test_semicolons_inside_literals_identifiers_and_comments() -> None:
    script = (
        "INSERT INTO t VALUES ('a;b', 'it''s; fine');\n"
        'CREATE TABLE "odd;name"([semi;colon], `x;y`);\n'
        "SELECT 1 /* not; the end */ + 2;\n"
        "SELECT 3 -- still; not the end\n + 4;\n"
    )
    assert split_statements(script) == [
        "INSERT INTO t VALUES ('a;b', 'it''s; fine');",
        'CREATE TABLE "odd;name"([semi;colon], `x;y`);',
        "SELECT 1 /* not; the end */ + 2;",
        "SELECT 3 -- still; not the end\n + 4;",
    ]


def test_text_after_the_last_semicolon_is_a_final_statement() -> None:
    assert split_statements("SELECT 1;\nUPDATE t SET x = 1\n") == ["SELECT 1;", "UPDATE t SET x = 1"]
    assert split_statements("  UPDATE t SET x = 1  ") == ["UPDATE t SET x = 1"]


def test_an_unterminated_literal_is_kept_whole_for_sqlite_to_reject() -> None:
    assert split_statements("SELECT 'a; SELECT 2;") == ["SELECT 'a; SELECT 2;"]


def test_comments_and_blank_pieces_are_dropped() -> None:
    script = "-- header only\n\n/* block; comment */\n;\n  ;\nSELECT 1;\n-- trailing remark\n"
    assert split_statements(script) == ["SELECT 1;"]
    assert split_statements("-- nothing here;\n/* nor; here */") == []
    assert split_statements("") == []
    assert split_statements("  \n\t\n") == []


def test_comments_stay_with_the_statement_they_describe() -> None:
    script = "-- create the table\nCREATE TABLE a(x);  -- a's only column\nCREATE TABLE b(y);\n"
    assert split_statements(script) == [
        "-- create the table\nCREATE TABLE a(x);  -- a's only column",
        "CREATE TABLE b(y);",
    ]


def test_crlf_input_splits_like_lf_input() -> None:
    lf = f"CREATE TABLE users(id INTEGER);\n{TRIGGER}\nSELECT 1; -- done\n"
    crlf = lf.replace("\n", "\r\n")
    split_lf, split_crlf = split_statements(lf), split_statements(crlf)
    assert len(split_crlf) == len(split_lf) == 3
    assert [s.replace("\r\n", "\n") for s in split_crlf] == split_lf
    assert [statement_hash(s) for s in split_crlf] == [statement_hash(s) for s in split_lf]


def test_every_piece_is_one_executable_statement() -> None:
    """sqlite3's execute() refuses two statements at once, so this catches under-splitting."""
    script = (
        "CREATE TABLE users(id INTEGER);\n"
        "CREATE TABLE log(msg TEXT); CREATE TABLE counters(name TEXT, n INTEGER);\n"
        "INSERT INTO counters VALUES ('users', 0); -- seed\n"
        f"{TRIGGER}\n"
        "INSERT INTO users VALUES (7)"
    )
    db = sqlite3.connect(":memory:")
    statements = split_statements(script)
    assert len(statements) == 6
    for statement in statements:
        db.execute(statement)
    assert db.execute("SELECT msg FROM log").fetchall() == [("new user; id=7",)]
    assert db.execute("SELECT n FROM counters").fetchall() == [(1,)]


@pytest.mark.parametrize(
    ("piece", "expected"),
    [
        ("", False),
        (" ;\n", False),
        ("-- only a comment", False),
        ("/* unterminated", False),
        ("/* a */ -- b\n;", False),
        ("-- a\nSELECT 1", True),
        ("/* a */SELECT 1", True),
        ("x", True),
    ],
)
def test_has_sql(piece: str, expected: bool) -> None:
    assert has_sql(piece) is expected


def test_normalise_touches_only_line_ends_and_outer_blank_space() -> None:
    raw = "\r\n\n  SELECT 'a  '  \r\n    FROM t\t\r\n  WHERE x = 'b\tc';  \n\n"
    assert normalise(raw) == "SELECT 'a  '\n    FROM t\n  WHERE x = 'b\tc';"


def test_hash_format_is_versioned_sha256_of_the_normalised_text() -> None:
    expected = "h1:" + hashlib.sha256(b"SELECT 1;").hexdigest()
    assert statement_hash("SELECT 1;") == expected
    assert statement_hash("\n  SELECT 1;  \r\n") == expected


@pytest.mark.parametrize(
    "variant",
    [
        "UPDATE users SET v = 2\nWHERE id <= 1000;",
        "UPDATE users SET v = 2   \nWHERE id <= 1000;   ",
        "UPDATE users SET v = 2\r\nWHERE id <= 1000;\r\n",
        "\n\n  UPDATE users SET v = 2\nWHERE id <= 1000;\n\n",
        "UPDATE users SET v = 2\t\nWHERE id <= 1000;",
    ],
)
def test_hash_ignores_line_endings_and_trailing_blanks(variant: str) -> None:
    assert statement_hash(variant) == statement_hash("UPDATE users SET v = 2\nWHERE id <= 1000;")


def test_hash_changes_with_any_real_text_change() -> None:
    base = "UPDATE users SET v = 2\nWHERE id <= 1000;"
    variants = [
        base,
        "UPDATE users SET v = 3\nWHERE id <= 1000;",        # a value
        "update users SET v = 2\nWHERE id <= 1000;",        # letter case
        "UPDATE users SET  v = 2\nWHERE id <= 1000;",       # inner spacing
        "UPDATE users SET v = 2\n  WHERE id <= 1000;",      # indentation
        "UPDATE users SET v = 2 WHERE id <= 1000;",         # a line break
        "UPDATE users SET v = 2\nWHERE id <= 1000",         # the semicolon
        "UPDATE users SET v = 2\nWHERE id <= 1000; -- x",   # a comment
        "UPDATE users SET v = 'a '\nWHERE id <= 1000;",     # inside a literal
        "UPDATE users SET v = 'a'\nWHERE id <= 1000;",
    ]
    hashes = {statement_hash(v) for v in variants}
    assert len(hashes) == len(variants)


# -- transaction control --------------------------------------------------------

from setright.runner.sql import statement_spans, transaction_control  # noqa: E402


@pytest.mark.parametrize("script,expected", [
    ("COMMIT;", [(0, "COMMIT")]),
    ("INSERT INTO a VALUES (1);\ncommit;\nINSERT INTO a VALUES (2);", [(26, "COMMIT")]),
    ("BEGIN IMMEDIATE;", [(0, "BEGIN")]),
    ("start  transaction;", [(0, "START TRANSACTION")]),
    ("END TRANSACTION;", [(0, "END")]),
    ("ROLLBACK TO s;", [(0, "ROLLBACK")]),
    ("ABORT;", [(0, "ABORT")]),
    ("SAVEPOINT s;\nRELEASE s;", [(0, "SAVEPOINT"), (13, "RELEASE")]),
    ("XA COMMIT 'x';", [(0, "XA")]),
    ("SET autocommit = 0;", [(0, "SET autocommit")]),
    ("SET SESSION autocommit=0;", [(0, "SET autocommit")]),
    ("SET @@global.autocommit = 1;", [(0, "SET autocommit")]),
    ("LOCK TABLES a WRITE;", [(0, "LOCK TABLES")]),
    ("-- first\n/* then */ COMMIT;", [(20, "COMMIT")]),
    ("SELECT 1; -- ok\n  COMMIT", [(18, "COMMIT")]),
    # MariaDB's compound statement (its DO block; MariaDB's splitter keeps it whole)
    ("BEGIN NOT ATOMIC SELECT 1", []), ("begin  not atomic\n  SELECT 2", []),
    ("BEGIN NOT;", [(0, "BEGIN")]),
])
def test_transaction_control_is_found_by_the_first_keyword(
        script: str, expected: list[tuple[int, str]]) -> None:
    assert transaction_control(script) == expected
    for offset, keyword in expected:
        assert script[offset:].upper().startswith(keyword.split()[0].upper())


@pytest.mark.parametrize("script", [
    TRIGGER,
    "create trigger t2 before delete on a begin select 1; end;",
    "INSERT INTO a VALUES ('COMMIT;');",
    "INSERT INTO a VALUES ('\nBEGIN;');",
    "-- COMMIT;\nINSERT INTO a VALUES (1);",
    "/* ROLLBACK; */ SELECT 1;",
    'CREATE TABLE "commit" (begin_at TEXT);',
    "SELECT CASE WHEN 1 THEN 2 END;",
    "UPDATE a SET x = 1;",
    "SET search_path = app;",
    "LOCK TABLE a IN EXCLUSIVE MODE;",
    "CREATE TABLE beginnings (x);",
    "DO $$ BEGIN PERFORM 1; END $$;",
    "DO $body$\nBEGIN\n  UPDATE a SET x = 1;\n  COMMIT;\nEND\n$body$;",
    "SELECT $1; SELECT 2;",
])
def test_words_inside_bodies_strings_and_comments_are_not_transaction_control(
        script: str) -> None:
    assert transaction_control(script) == []


def test_spans_give_each_statement_its_offset() -> None:
    script = "  CREATE TABLE a(x);\n\n-- note\nINSERT INTO a VALUES (1);"
    spans = statement_spans(script)
    assert [s for _, s in spans] == split_statements(script)
    assert [script[offset:offset + 6] for offset, _ in spans] == ["CREATE", "-- not"]


def test_a_commit_after_a_dollar_body_is_still_found() -> None:
    script = "DO $$ BEGIN PERFORM 1; END $$;\nCOMMIT;"
    assert transaction_control(script) == [(script.index("COMMIT"), "COMMIT")]


@pytest.mark.parametrize("script,expected", [
    ("INSERT INTO a VALUES (1);", [(0, "INSERT INTO a VALUES (1);")]),
    ("\n  INSERT INTO a VALUES (1);  \n\n", [(3, "INSERT INTO a VALUES (1);")]),
    ("-- why\nINSERT INTO a VALUES (1);\n", [(0, "-- why\nINSERT INTO a VALUES (1);")]),
    ("SELECT 'a;", [(0, "SELECT 'a;")]),              # incomplete: kept whole for SQLite
    ("-- only a comment;", []),
    ("/* nothing */ ;\n", []),
    (" ;", []),
])
def test_a_script_with_its_only_semicolon_at_the_end_is_one_piece(
        script: str, expected: list[tuple[int, str]]) -> None:
    """The short way for one trailing `;` gives what the statement-by-statement walk gives:
    the same text with a blank line and a lone `;` after it walks the long way."""
    assert statement_spans(script) == expected
    if not script.startswith("SELECT '"):   # an open literal would swallow the suffix
        assert statement_spans(script + "\n;") == expected
