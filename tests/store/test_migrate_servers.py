"""`store migrate` against real PostgreSQL and MariaDB.

First the core (`copy_store`) into a schema built through the impl's DDL hooks with
Flamingock's own audit DDL per dialect (zone-less TIMESTAMP, BOOLEAN/TINYINT flags), so
values are really fitted: integer ms become timestamps and back, 0/1 flags and back; then
whole stores through `Store` and `migrate_store` (and the CLI): SQLite → PostgreSQL →
SQLite, SQLite → MariaDB → SQLite and MariaDB → PostgreSQL, refusal, a kill mid-copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from migratehelp import (big_store, build_server_schema, dump, dump_tables, filled_project,
                         kill_mid_copy)
from serverhelp import pg_module_url, pg_schema_url  # noqa: F401 - fixtures
from serverhelp_mysql import mysql_admin, mysql_url  # noqa: F401 - fixtures
from setright.db import parse_url
from setright.errors import StoreError
from setright.store import Store
from setright.store.audit import append_audit_row
from setright.store.issues import find_issues
from setright.store.migrate import copy_store, migrate_store, occupied_tables
from setright.store.transitions import Provenance, record_event
from setright.timeutil import FixedClock
from storehelp import T0

AUDIT = "setright_audit_log"
ROOT = Path(".")


@pytest.fixture
def source(tmp_path: Path, clock: FixedClock) -> Any:
    store = filled_project(tmp_path / "project", clock).open_store(clock)
    yield store
    store.close()


def server(url_text: str) -> tuple[Any, Any]:
    from setright.db import impl_for

    url = parse_url(url_text, ROOT)
    impl = impl_for(url)
    return impl, impl.connect(url)


def copy_into(source: Store, impl: Any, conn: Any, **kw: Any) -> list[Any]:
    """What `migrate_store` does once the destination store exists."""
    with source.read() as src:
        impl.begin(conn, write=True)
        try:
            tables = copy_store(src, source.impl, conn, impl, AUDIT, shown="server", **kw)
        except BaseException:
            impl.rollback(conn)
            raise
        impl.commit(conn)
    return tables


def next_ids(impl: Any, conn: Any) -> tuple[int, int]:
    impl.begin(conn, write=True)
    audit_id = impl.insert_returning_id(
        conn, f"INSERT INTO {AUDIT} (change_id, state) VALUES (?, 'STARTED')", ("later",))
    event_id = impl.insert_returning_id(
        conn, "INSERT INTO setright_events (at, kind) VALUES (?, 'mark')",
        ("2026-11-22T12:00:00.000Z",))
    impl.rollback(conn)
    return audit_id, event_id


def top_ids(store: Store) -> tuple[int, int]:
    return (store.conn.execute(f"SELECT max(id) FROM {AUDIT}").fetchone()[0],
            store.conn.execute("SELECT max(id) FROM setright_events").fetchone()[0])


def test_sqlite_to_postgresql_and_back(source: Store, pg_schema_url: str, tmp_path: Path,
                                       clock: FixedClock) -> None:
    from setright.db.postgres import flamingock_audit_ddl

    impl, conn = server(pg_schema_url)
    try:
        impl.begin(conn, write=True)
        build_server_schema(conn, impl, flamingock_audit_ddl(AUDIT))
        impl.commit(conn)
        there = copy_into(source, impl, conn, batch_rows=3)
        assert dump_tables(conn, impl, AUDIT, canonical_values=True) == dump(
            source, canonical_values=True)
        kinds = impl.column_kinds(conn, AUDIT)
        assert (kinds["created_at"], kinds["transaction_flag"]) == ("timestamp", "boolean")
        top_audit, top_event = top_ids(source)
        assert next_ids(impl, conn) == (top_audit + 1, top_event + 1)  # sequences advanced

        back_path = tmp_path / "back.db"
        back = Store.open(back_path, clock=clock)
        try:
            impl.begin(conn, write=False)
            try:
                with back.write(state=False) as tx:
                    again = copy_store(conn, impl, tx, back.impl, AUDIT, shown=str(back_path))
            finally:
                impl.rollback(conn)
            assert [t.digest for t in again] == [t.digest for t in there]
            assert dump(back) == dump(source)  # ms integers, 0/1 flags: every value as it was
        finally:
            back.close()
    finally:
        conn.close()


def test_sqlite_to_mariadb_leaves_the_generated_column_to_the_server(
        source: Store, mysql_url: str) -> None:
    from setright.db.mysql import flamingock_audit_ddl

    impl, conn = server(mysql_url)
    try:
        # setright's own ms integers: a BIGINT created_at keeps them exactly
        ddl = flamingock_audit_ddl(AUDIT).replace(
            "created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP", "created_at BIGINT")
        build_server_schema(conn, impl, ddl)
        assert "active_target" in [c.lower() for c in impl.column_names(conn, "setright_applies")]
        assert "active_target" not in impl.column_kinds(conn, "setright_applies")
        copy_into(source, impl, conn, batch_rows=4)
        assert dump_tables(conn, impl, AUDIT, canonical_values=True) == dump(
            source, canonical_values=True)
        active = conn.execute("SELECT id, active_target FROM setright_applies").fetchall()
        assert [a for _id, a in active] == [None]  # the failed apply is terminal
        top_audit, top_event = top_ids(source)
        assert next_ids(impl, conn) == (top_audit + 1, top_event + 1)
    finally:
        conn.close()


def test_a_whole_second_timestamp_on_mariadb_is_refused_and_rolled_back(
        source: Store, mysql_url: str) -> None:
    """Flamingock's MySQL `created_at TIMESTAMP` keeps whole seconds: ms would be lost, so
    the digests differ and nothing commits."""
    from setright.db.mysql import flamingock_audit_ddl

    impl, conn = server(mysql_url)
    try:
        build_server_schema(conn, impl, flamingock_audit_ddl(AUDIT))
        source.conn.execute(f"UPDATE {AUDIT} SET created_at = created_at + 250")
        with pytest.raises(StoreError) as refused:
            copy_into(source, impl, conn)
        assert refused.value.message == (
            f"the copy of {AUDIT} in server does not match the source")
        assert occupied_tables(conn, impl, AUDIT) == []
    finally:
        conn.close()


# -- through `Store` and `migrate_store`: the store on PostgreSQL -------------------------


def test_store_migrate_sqlite_to_postgresql_and_back(source: Store, pg_schema_url: str,
                                                     tmp_path: Path, clock: FixedClock) -> None:
    there = migrate_store(source, parse_url(pg_schema_url, ROOT))
    pg = Store.open(parse_url(pg_schema_url, ROOT), clock=clock)
    back_path = tmp_path / "back.db"
    try:
        assert (pg.lineage, pg.serial) == (source.lineage, source.serial)
        assert dump(pg, canonical_values=True) == dump(source, canonical_values=True)
        assert [v.facts.change_id for v in find_issues(pg.conn, T0)] == [
            v.facts.change_id for v in find_issues(source.conn, T0)]
        back = migrate_store(pg, parse_url(f"sqlite:///{back_path}", ROOT))
        assert [t.digest for t in back.tables] == [t.digest for t in there.tables]

        top_audit, top_event = top_ids(source)
        with pg.write() as tx:
            audit_id = append_audit_row(tx, pg.audit_table, {
                "change_id": "later", "state": "STARTED", "target_system_id": "app"},
                now_ms=T0)
            event_id = record_event(tx, at="2026-11-22T12:00:00.000Z", kind="mark",
                                    change_id="later", prov=Provenance(actor="a", source="cli"))
        assert (audit_id, event_id) == (top_audit + 1, top_event + 1)  # sequences advanced
    finally:
        pg.close()
    copy = Store.open(back_path, clock=clock)
    try:
        assert dump(copy) == dump(source)  # every value and type as it was on SQLite
    finally:
        copy.close()


def test_a_postgresql_store_with_rows_is_refused_and_left_as_it_was(
        source: Store, pg_schema_url: str, clock: FixedClock) -> None:
    url = parse_url(pg_schema_url, ROOT)
    migrate_store(source, url)
    pg = Store.open(url, clock=clock)
    try:
        before = dump(pg)
        with pytest.raises(StoreError) as refused:
            migrate_store(source, url)
        assert refused.value.message == f"the destination {url.shown} is not empty"
        assert dump(pg) == before
    finally:
        pg.close()


def test_a_migrate_to_postgresql_killed_mid_copy_can_be_run_again(
        tmp_path: Path, pg_schema_url: str, clock: FixedClock) -> None:
    source_path = tmp_path / "big.db"
    big = big_store(source_path, clock)
    try:
        kill_mid_copy(source_path, pg_schema_url)
        url = parse_url(pg_schema_url, ROOT)
        pg = Store.open(url, clock=clock)
        try:
            assert occupied_tables(pg.conn, pg.impl, pg.audit_table) == []
        finally:
            pg.close()
        result = migrate_store(big, url)
        assert result.tables[0].rows == 10_000
    finally:
        big.close()


def test_the_cli_moves_a_project_store_to_postgresql(tmp_path: Path, pg_schema_url: str,
                                                     clock: FixedClock) -> None:
    project = filled_project(tmp_path / "project", clock)
    result = project.cli("store", "migrate", "--to", pg_schema_url, clock=clock)
    assert result.exit_code == 0, result.output
    assert "every row count and digest matches the source" in result.stdout
    moved = project.cli("--store", pg_schema_url, "issue", "list", clock=clock)
    local = project.cli("issue", "list", clock=clock)
    assert (moved.exit_code, moved.stdout) == (local.exit_code, local.stdout)


# -- through `Store` and `migrate_store`: the store on MariaDB ------------------------------


def test_store_migrate_sqlite_to_mariadb_and_back(source: Store, mysql_url: str,
                                                  tmp_path: Path, clock: FixedClock) -> None:
    url = parse_url(mysql_url, ROOT)
    there = migrate_store(source, url)
    maria = Store.open(url, clock=clock)
    back_path = tmp_path / "back.db"
    try:
        assert (maria.lineage, maria.serial) == (source.lineage, source.serial)
        assert dump(maria, canonical_values=True) == dump(source, canonical_values=True)
        assert "active_target" in [c.lower() for c in maria.impl.column_names(
            maria.conn, "setright_applies")]  # the server's own, computed again
        back = migrate_store(maria, parse_url(f"sqlite:///{back_path}", ROOT))
        assert [t.digest for t in back.tables] == [t.digest for t in there.tables]
        top_audit, top_event = top_ids(source)
        with maria.write() as tx:
            audit_id = append_audit_row(tx, maria.audit_table, {
                "change_id": "later", "state": "STARTED", "target_system_id": "app"},
                now_ms=T0)
            event_id = record_event(tx, at="2026-11-22T12:00:00.000Z", kind="mark",
                                    change_id="later", prov=Provenance(actor="a", source="cli"))
        assert (audit_id, event_id) == (top_audit + 1, top_event + 1)
        with pytest.raises(StoreError, match="is not empty"):
            migrate_store(source, url)
    finally:
        maria.close()
    copy = Store.open(back_path, clock=clock)
    try:
        assert dump(copy) == dump(source)
    finally:
        copy.close()


def test_a_migrate_to_mariadb_killed_mid_copy_can_be_run_again(
        tmp_path: Path, mysql_url: str, clock: FixedClock) -> None:
    source_path = tmp_path / "big.db"
    big = big_store(source_path, clock)
    try:
        kill_mid_copy(source_path, mysql_url)
        url = parse_url(mysql_url, ROOT)
        maria = Store.open(url, clock=clock)
        try:
            assert occupied_tables(maria.conn, maria.impl, maria.audit_table) == []
        finally:
            maria.close()
        assert migrate_store(big, url).tables[0].rows == 10_000
    finally:
        big.close()


def test_a_mariadb_store_moves_to_postgresql_directly(source: Store, mysql_url: str,
                                                      pg_schema_url: str, tmp_path: Path,
                                                      clock: FixedClock) -> None:
    """Server to server, no SQLite in between: MariaDB's DATETIME(3) and TINYINT flags
    become PostgreSQL's timestamps and booleans, and every table's digest stays the same."""
    there = migrate_store(source, parse_url(mysql_url, ROOT))
    maria = Store.open(parse_url(mysql_url, ROOT), clock=clock)
    try:
        moved = migrate_store(maria, parse_url(pg_schema_url, ROOT))
    finally:
        maria.close()
    assert [(t.table, t.rows, t.digest) for t in moved.tables] == [
        (t.table, t.rows, t.digest) for t in there.tables]
    pg = Store.open(parse_url(pg_schema_url, ROOT), clock=clock)
    try:
        assert (pg.lineage, pg.serial) == (source.lineage, source.serial)
        assert dump(pg, canonical_values=True) == dump(source, canonical_values=True)
        assert [v.facts.change_id for v in find_issues(pg.conn, T0)] == [
            v.facts.change_id for v in find_issues(source.conn, T0)]
    finally:
        pg.close()


@pytest.mark.parametrize("server_url, column, value", [
    ("pg_schema_url", "change_id", "c" * 300), ("pg_schema_url", "error_trace", "a\0b"),
    ("mysql_url", "change_id", "c" * 300)])   # MariaDB's LONGTEXT holds a NUL
def test_a_value_the_destination_cannot_hold_is_one_error(
        source: Store, request: pytest.FixtureRequest, server_url: str, column: str,
        value: str) -> None:
    """Too long for VARCHAR(255), or a NUL PostgreSQL text refuses: named, never internal."""
    destination = request.getfixturevalue(server_url)
    with source.write() as tx:
        tx.execute(f"UPDATE {AUDIT} SET {column} = ? WHERE id = (SELECT min(id) FROM {AUDIT})",
                   (value,))
    with pytest.raises(StoreError) as refused:
        migrate_store(source, parse_url(destination, ROOT))
    assert refused.value.message.startswith(f"cannot copy {AUDIT} into ")
    assert refused.value.details == ["nothing was written; the store being migrated is unchanged"]
    impl, conn = server(destination)
    try:
        assert occupied_tables(conn, impl, AUDIT) == []
    finally:
        conn.close()
