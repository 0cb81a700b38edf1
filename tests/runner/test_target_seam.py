"""The target face of the backend seam (issue 13): the runner asks the target's dialect.

SQLite behaves exactly as before the seam (the splitter moved, its output did not:
the checksums pinned in the snapshots prove that); a target on another dialect has
its change scripts split by that dialect's implementation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from setright.config import Config, TargetConfig
from setright.db import DbUrl, impl_for, parse_url
from setright.errors import ConfigError
from setright.runner.changes import load_all, load_change_file
from setright.runner.sql import split_statements, statement_spans, transaction_control
from setright.runner.targets import target_exists, target_impl, target_url

SRC = Path(__file__).resolve().parents[2] / "src" / "setright"

SCRIPTS = [
    "CREATE TABLE t (v TEXT);\nINSERT INTO t VALUES ('a;b');",
    "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;\nSELECT 2; -- trailing; note\n",
    "/* a; b */ SELECT 1;\n-- only a comment;\n;\nSELECT \"x;y\" FROM t",
    "DO $$ BEGIN PERFORM 1; END $$;\nCOMMIT;",
    "  \n\t",
    "",
]


def sqlite_impl():  # type: ignore[no-untyped-def]
    return impl_for(DbUrl("sqlite", "sqlite:///x.db", path=Path("x.db")))


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_sqlite_impl_splits_exactly_as_the_runner_did(script: str) -> None:
    impl = sqlite_impl()
    assert impl.split_statements(script) == split_statements(script)
    assert impl.statement_spans(script) == statement_spans(script)
    assert transaction_control(script, impl) == transaction_control(script)


def pg_target(tmp_path: Path, changes: str | None = None) -> TargetConfig:
    return TargetConfig(name="pg", url="postgresql://app@db.invalid/app",
                        path=tmp_path / "unused", changes=tmp_path / changes if changes else None)


def test_a_target_url_names_its_dialect(tmp_path: Path) -> None:
    lite = TargetConfig(name="a", url="sqlite:///data/a.db", path=tmp_path / "data" / "a.db",
                        changes=None)
    url = target_url(lite)
    assert url is not None and url.dialect == "sqlite" and url.path == tmp_path / "data" / "a.db"
    assert target_impl(lite).name == "sqlite"
    assert not target_exists(lite)
    pg = target_url(pg_target(tmp_path))
    assert pg is not None and (pg.dialect, pg.host, pg.database) == ("postgresql", "db.invalid", "app")
    assert target_impl(pg_target(tmp_path)).name == "postgresql"
    with pytest.raises(ConfigError, match="unsupported database URL"):
        TargetConfig(name="x", url="oracle://h/d", path=tmp_path / "x", changes=None)


def test_change_scripts_are_split_by_the_target_dialect(tmp_path: Path) -> None:
    """A dollar-quoted body holds `;`: SQLite's splitter cuts it, PostgreSQL's does not."""
    text = "id: fn\napply: |\n  DO $$ BEGIN PERFORM 1; END $$;\n  SELECT 2;\n"
    for folder in ("changes/pg", "changes/lite"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "_0001__fn.yaml").write_text(text.replace("fn", folder[-2:]))
    lite = TargetConfig(name="lite", url="sqlite:///lite.db", path=tmp_path / "lite.db",
                        changes=tmp_path / "changes/lite")
    config = Config(root=tmp_path, path=tmp_path / "setright.yaml", store_url="sqlite:///s.db",
                    store_path=tmp_path / "s.db",
                    targets={"pg": pg_target(tmp_path, "changes/pg"), "lite": lite})
    loaded = load_all(config)
    [on_pg], [on_lite] = loaded["pg"], loaded["lite"]
    assert [op.statement for op in on_pg.operations] == [
        "DO $$ BEGIN PERFORM 1; END $$;", "SELECT 2;"]
    assert [op.statement for op in on_lite.operations] == [
        "DO $$ BEGIN PERFORM 1;", "END $$;", "SELECT 2;"]
    # without a target (as the tests load single files) SQLite's splitter, checksum and all
    alone = load_change_file(tmp_path / "changes/lite/_0001__fn.yaml", "lite", root=tmp_path)
    assert alone == on_lite


def test_default_spans_locate_each_statement_of_a_server_dialect() -> None:
    impl = impl_for(parse_url("postgresql://u@h/d", Path(".")))
    script = "DO $$ BEGIN COMMIT; END $$;\n-- c\nSELECT 1;\nSELECT 1;\n  COMMIT;"
    spans = impl.statement_spans(script)
    assert [s for _, s in spans] == impl.split_statements(script)
    assert [o for o, _ in spans] == [0, script.index("-- c"), script.rindex("SELECT 1;"),
                                     script.index("COMMIT;", 30)]
    assert transaction_control(script, impl) == [(script.index("COMMIT;", 30), "COMMIT")]


def test_runner_and_planner_reach_databases_only_through_the_seam() -> None:
    """No driver in runner/ or planner/, and db/ never reaches back into runner/."""
    for folder in ("runner", "planner"):
        for path in sorted((SRC / folder).glob("*.py")):
            assert "sqlite3" not in path.read_text(encoding="utf-8"), path.name
            assert not re.search(r"^\s*(import|from)\s+(psycopg|pymysql)",
                                 path.read_text(encoding="utf-8"), re.M), path.name
    for path in sorted((SRC / "db").glob("*.py")):
        assert not re.search(r"^\s*(import|from)\s+setright\.runner",
                             path.read_text(encoding="utf-8"), re.M), path.name
