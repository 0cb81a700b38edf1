"""MySQL script lexing without a server: splitting, placeholders, first keywords, DDL effects."""

from __future__ import annotations

import pytest

from setright.db.mysql_lex import (
    DdlEffect,
    commits_implicitly,
    ddl_effect,
    first_keyword,
    split_statements,
    translate_placeholders,
)

SPLITS = [
    # (script, statements)
    ("SELECT 1", ["SELECT 1"]),
    ("SELECT 1;", ["SELECT 1"]),
    ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
    ("  \n;;\n  ", []),
    ("SELECT 'a;b'; SELECT 2", ["SELECT 'a;b'", "SELECT 2"]),
    ('SELECT "a;b"; SELECT 2', ['SELECT "a;b"', "SELECT 2"]),
    ("SELECT 'it\\'s; here'; SELECT 2", ["SELECT 'it\\'s; here'", "SELECT 2"]),
    ("SELECT 'it''s; here'; SELECT 2", ["SELECT 'it''s; here'", "SELECT 2"]),
    ('SELECT "say \\"x;\\""; SELECT 2', ['SELECT "say \\"x;\\""', "SELECT 2"]),
    ("SELECT 'ends in backslash \\\\'; SELECT 2", ["SELECT 'ends in backslash \\\\'", "SELECT 2"]),
    ("SELECT `a;b` FROM `t;1`; SELECT 2", ["SELECT `a;b` FROM `t;1`", "SELECT 2"]),
    ("SELECT `a``;b`; SELECT 2", ["SELECT `a``;b`", "SELECT 2"]),
    ("SELECT 1 # a comment; still comment\n; SELECT 2", ["SELECT 1 # a comment; still comment",
                                                         "SELECT 2"]),
    ("SELECT 1 -- a comment; still comment\n; SELECT 2", ["SELECT 1 -- a comment; still comment",
                                                          "SELECT 2"]),
    ("SELECT 1 --1; SELECT 2", ["SELECT 1 --1", "SELECT 2"]),          # `--` without a blank
    ("SELECT 5--3; SELECT 2", ["SELECT 5--3", "SELECT 2"]),
    ("SELECT 1 /* a; b */ + 1; SELECT 2", ["SELECT 1 /* a; b */ + 1", "SELECT 2"]),
    ("/*!40101 SET NAMES utf8mb4 */; SELECT 2", ["/*!40101 SET NAMES utf8mb4 */", "SELECT 2"]),
    ("-- only a comment\n", []),
    ("SELECT 1; -- trailing comment", ["SELECT 1"]),
    ("DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END //\nDELIMITER ;\nSELECT 3;",
     ["CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END", "SELECT 3"]),
    ("DELIMITER $$\nCREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN\n"
     "  SET NEW.a = 1;\nEND$$\nDELIMITER ;\n",
     ["CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN\n  SET NEW.a = 1;\nEND"]),
    ("delimiter ;;\nSELECT 1;; SELECT 'x;;y';;\ndelimiter ;\nSELECT 2;",
     ["SELECT 1", "SELECT 'x;;y'", "SELECT 2"]),
    ("CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = 1; SET NEW.b = 2; END;"
     " SELECT 9", ["CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = 1;"
                   " SET NEW.b = 2; END", "SELECT 9"]),
    ("CREATE PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; WHILE 0 DO SELECT 2; END WHILE;"
     " SELECT CASE WHEN 1 THEN 2 END; END; SELECT 3",
     ["CREATE PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; WHILE 0 DO SELECT 2; END WHILE;"
      " SELECT CASE WHEN 1 THEN 2 END; END", "SELECT 3"]),
    ("CREATE PROCEDURE p() lbl: BEGIN CASE 1 WHEN 1 THEN SELECT 1; END CASE; END lbl; SELECT 3",
     ["CREATE PROCEDURE p() lbl: BEGIN CASE 1 WHEN 1 THEN SELECT 1; END CASE; END lbl",
      "SELECT 3"]),
    ("CREATE DEFINER=`root`@`%` PROCEDURE p() BEGIN SELECT 'END;'; END; SELECT 3",
     ["CREATE DEFINER=`root`@`%` PROCEDURE p() BEGIN SELECT 'END;'; END", "SELECT 3"]),
    ("CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET NEW.a = 1; SELECT 3",
     ["CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET NEW.a = 1", "SELECT 3"]),
    ("CREATE TABLE events (begin_at INT, `case` INT); SELECT 3",
     ["CREATE TABLE events (begin_at INT, `case` INT)", "SELECT 3"]),
    ("BEGIN NOT ATOMIC SELECT 1; SELECT 2; END; SELECT 3",
     ["BEGIN NOT ATOMIC SELECT 1; SELECT 2; END", "SELECT 3"]),
    ("SELECT 'unterminated; SELECT 2", ["SELECT 'unterminated; SELECT 2"]),
    ("INSERT INTO t VALUES ('DELIMITER //');\nSELECT 2", ["INSERT INTO t VALUES ('DELIMITER //')",
                                                          "SELECT 2"]),
]


@pytest.mark.parametrize("script, expected", SPLITS, ids=[f"case{i}" for i in range(len(SPLITS))])
def test_split_statements(script: str, expected: list[str]) -> None:
    assert split_statements(script) == expected


def test_enough_split_cases() -> None:
    assert len(SPLITS) >= 25


@pytest.mark.parametrize("sql, expected", [
    ("SELECT ? , ?", "SELECT %s , %s"),
    ("SELECT '?', `?`, \"?\", ? -- ?\n", "SELECT '?', `?`, \"?\", %s -- ?\n"),
    ("SELECT ? /* ? */ # ?\n", "SELECT %s /* ? */ # ?\n"),
    ("SELECT 'a%' LIKE ?, 10 % 3", "SELECT 'a%%' LIKE %s, 10 %% 3"),
    ("SELECT '%s' , ?", "SELECT '%%s' , %s"),
    ("SELECT 'it\\'s ?', ?", "SELECT 'it\\'s ?', %s"),
])
def test_translate_placeholders(sql: str, expected: str) -> None:
    assert translate_placeholders(sql) == expected


@pytest.mark.parametrize("statement, keyword, commits", [
    ("  -- note\n/* x */ create table t (a int)", "CREATE", True),
    ("# c\nALTER TABLE t ADD c INT", "ALTER", True),
    ("drop index i on t", "DROP", True),
    ("RENAME TABLE a TO b", "RENAME", True),
    ("TRUNCATE t", "TRUNCATE", True),
    ("/*!50003 CREATE*/ /*!50017 DEFINER=`u`@`%`*/ /*!50003 TRIGGER t */", "CREATE", True),
    ("INSERT INTO t VALUES (1)", "INSERT", False),
    ("UPDATE t SET a = 'CREATE'", "UPDATE", False),
    ("(SELECT 1)", "SELECT", False),
    ("-- only a comment", "", False),
    # not DDL, but committed implicitly all the same (MariaDB does not always say so)
    ("ANALYZE TABLE t", "ANALYZE", True), ("grant select on t to u", "GRANT", True),
    ("REVOKE SELECT ON t FROM u", "REVOKE", True), ("OPTIMIZE TABLE t", "OPTIMIZE", True),
    ("REPAIR TABLE t", "REPAIR", True), ("CHECK TABLE t", "CHECK", True),
    ("FLUSH PRIVILEGES", "FLUSH", True), ("SET PASSWORD FOR u = PASSWORD('x')", "SET", True),
    ("LOAD INDEX INTO CACHE t", "LOAD", True), ("CACHE INDEX t IN c", "CACHE", True),
    ("SET @a = 1", "SET", False), ("LOAD DATA INFILE 'x' INTO TABLE t", "LOAD", False),
    ("CHECKSUM TABLE t", "CHECKSUM", False),
])
def test_first_keyword_and_commits_implicitly(statement: str, keyword: str,
                                              commits: bool) -> None:
    assert first_keyword(statement) == keyword
    assert commits_implicitly(statement) is commits


@pytest.mark.parametrize("statement, effect", [
    ("CREATE TABLE t (a INT)", DdlEffect("create_table", "t")),
    ("create table if not exists `My Table` (a int);", DdlEffect("create_table", "My Table")),
    ("CREATE TABLE app.t LIKE app.u", DdlEffect("create_table", "t", schema="app")),
    ("DROP TABLE t", DdlEffect("drop_table", "t")),
    ("DROP TABLE IF EXISTS `t`", DdlEffect("drop_table", "t")),
    ("ALTER TABLE t ADD COLUMN c INT NOT NULL DEFAULT 0", DdlEffect("add_column", "t", "c")),
    ("ALTER TABLE t ADD c VARCHAR(10) AFTER b", DdlEffect("add_column", "t", "c")),
    ("ALTER TABLE t ADD COLUMN IF NOT EXISTS c INT", DdlEffect("add_column", "t", "c")),
    ("ALTER TABLE t ADD COLUMN c INT, ALGORITHM=INSTANT", DdlEffect("add_column", "t", "c")),
    ("ALTER TABLE t DROP COLUMN c", DdlEffect("drop_column", "t", "c")),
    ("ALTER TABLE `t` DROP `c`", DdlEffect("drop_column", "t", "c")),
    ("CREATE INDEX i ON t (a, b)", DdlEffect("create_index", "t", "i")),
    ("CREATE UNIQUE INDEX i USING BTREE ON t (a)", DdlEffect("create_index", "t", "i")),
    ("DROP INDEX i ON t", DdlEffect("drop_index", "t", "i")),
    ("DROP INDEX `i` ON app.t", DdlEffect("drop_index", "t", "i", "app")),
    # unknown: never guessed
    ("DROP TABLE a, b", None),
    ("ALTER TABLE t ADD COLUMN c INT, ADD COLUMN d INT", None),
    ("ALTER TABLE t ADD INDEX i (a)", None),
    ("ALTER TABLE t ADD (c INT, d INT)", None),
    ("ALTER TABLE t DROP INDEX i", None),
    ("ALTER TABLE t MODIFY c BIGINT", None),
    ("ALTER TABLE t RENAME TO u", None),
    ("CREATE TEMPORARY TABLE t (a INT)", None),
    ("CREATE OR REPLACE TABLE t (a INT)", None),
    ("CREATE VIEW v AS SELECT 1", None),
    ("RENAME TABLE a TO b", None),
    ("INSERT INTO t VALUES (1)", None),
])
def test_ddl_effect(statement: str, effect: DdlEffect | None) -> None:
    assert ddl_effect(statement) == effect


@pytest.mark.parametrize("apply, head", [
    ("CREATE UNIQUE INDEX items_sku ON items (sku)", "CREATE UNIQUE INDEX"),
    ("CREATE FULLTEXT INDEX items_note ON items (note)", "CREATE FULLTEXT INDEX"),
    ("CREATE INDEX items_sku ON items (sku)", "CREATE INDEX"),
    ("CREATE TABLE items (id INTEGER)", "CREATE TABLE"),
    ("ALTER TABLE items ADD note TEXT", "ALTER TABLE"),
    ("ALTER ONLINE TABLE items ADD note TEXT", "ALTER ONLINE TABLE"),
    ("CREATE OR REPLACE VIEW v AS SELECT 1", "CREATE OR REPLACE VIEW"),
    ("DROP TEMPORARY TABLE t", "DROP TEMPORARY TABLE"),
    ("ANALYZE TABLE items", "ANALYZE TABLE"),
])
def test_the_implicit_commit_warning_names_the_statement(apply: str, head: str) -> None:
    """Loading a MariaDB change words the warning with the verb through the object's kind."""
    from setright.db.mysql import MysqlImpl
    from setright.runner.change_sql import ScriptSplitter, outside_transaction
    from setright.yamlfile import parse_yaml

    doc = parse_yaml(f"id: c\napply: {apply}\n", "change.yaml")
    problem = outside_transaction(doc, ScriptSplitter(MysqlImpl()))
    assert problem is not None
    assert problem.message.startswith(f"{head} commits implicitly on this database: ")
