"""The drift check's seam hook on real servers: a server target's `schema_snapshot`, read
through a read-only connection, DeepDiffed the way a redrive plan does."""

from __future__ import annotations

from pathlib import Path

from serverhelp import pg_schema_url, pg_module_url  # noqa: F401 - fixtures
from serverhelp_mysql import mysql_admin, mysql_url  # noqa: F401 - fixtures
from setright.db.url import parse_url
from setright.planner.drift import schema_drift

SETUP = ("CREATE TABLE items (id INTEGER PRIMARY KEY, sku VARCHAR(40) NOT NULL)",
         "CREATE UNIQUE INDEX items_sku ON items (sku)")


def test_postgres_target_snapshot_and_drift(pg_schema_url: str) -> None:  # noqa: F811
    from setright.db.postgres_target import PostgresTarget

    url = parse_url(pg_schema_url, Path("."))
    writer = PostgresTarget.open("app", url)
    try:
        for sql in SETUP:
            writer.execute_autocommit(sql)
        failure_time = writer.schema_snapshot()
        assert "setright_markers" not in failure_time["tables"]   # setright's own, left out
        writer.execute_autocommit("DROP INDEX items_sku")
        writer.execute_autocommit("CREATE TABLE legacy_items (id INTEGER)")
    finally:
        writer.close()
    reader = PostgresTarget.open("app", url, read_only=True)
    try:
        live = reader.schema_snapshot()
    finally:
        reader.close()
    drift = schema_drift(failure_time, live)
    assert drift.lost == ["index items_sku dropped since the apply failed"]
    assert drift.added == ["table legacy_items added"]


def test_mysql_target_snapshot_and_drift(mysql_url: str) -> None:  # noqa: F811
    from setright.db.mysql_target import MysqlTarget

    url = parse_url(mysql_url, Path("."))
    writer = MysqlTarget.open("app", url)
    try:
        for sql in SETUP:
            writer.conn.execute(sql)
        failure_time = writer.schema_snapshot()
        assert "setright_markers" not in failure_time["tables"]
        writer.conn.execute("ALTER TABLE items MODIFY sku VARCHAR(80) NOT NULL")
    finally:
        writer.close()
    reader = MysqlTarget.open("app", url, read_only=True)
    try:
        live = reader.schema_snapshot()
    finally:
        reader.close()
    drift = schema_drift(failure_time, live)
    assert drift.added == []
    assert drift.lost == ["column items.sku altered since the apply failed: "
                          "type VARCHAR(40) → VARCHAR(80)"]
