"""The migrate core (`copy_store`) against real PostgreSQL and MariaDB, through the impls.

The destination schema is built through the impls' DDL hooks with Flamingock's own audit
DDL per dialect (zone-less TIMESTAMP, BOOLEAN/TINYINT flags), so values are really fitted:
integer ms become timestamps and back, 0/1 become flags and back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from migratehelp import build_server_schema, dump, dump_tables, filled_project
from serverhelp import pg_module_url, pg_schema_url  # noqa: F401 - fixtures
from serverhelp_mysql import mysql_admin, mysql_url  # noqa: F401 - fixtures
from setright.db import parse_url
from setright.errors import StoreError
from setright.store import Store
from setright.store.migrate import copy_store, occupied_tables
from setright.timeutil import FixedClock

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
