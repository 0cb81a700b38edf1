"""A reader on a server store: what it checks before its snapshot, in few round trips, and
the planner statistics a large fold refreshes (PostgreSQL). Each test has its own database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from serverhelp import server_store_url, store_database  # noqa: F401
from setright.db import parse_url
from setright.errors import StoreError
from setright.store import Store
from setright.store.audit import current_state
from setright.store.audit_listing import list_current
from setright.timeutil import FixedClock
from storehelp import T0, audit


def _url(text: str) -> Any:
    return parse_url(text, Path("."))


@contextmanager
def statements(connection_type: type) -> Iterator[list[str]]:
    """Every statement sent through `connection_type.execute` while the block runs."""
    sent: list[str] = []
    execute = connection_type.execute

    def counted(self: Any, sql: str, parameters: Any = (), /) -> Any:
        sent.append(" ".join(sql.split()))
        return execute(self, sql, parameters)

    connection_type.execute = counted
    try:
        yield sent
    finally:
        connection_type.execute = execute


def _folded_store(url_text: str) -> Store:
    store = Store.open(_url(url_text), clock=FixedClock(T0))
    audit(store, "a", "STARTED")
    audit(store, "a", "FAILED", error="boom")
    audit(store, "b", "APPLIED")
    return store


def test_a_reader_checks_a_folded_store_in_three_queries_before_its_snapshot() -> None:
    """Catalog (tables, audit columns and their types), every meta value with the log's
    highest id, and the look-back window: not one query per question."""
    from setright.db.postgres_conn import PgConnection

    with store_database("postgresql") as url_text:
        _folded_store(url_text).close()
        with statements(PgConnection) as sent:
            reader = Store.open_reader(_url(url_text))
        try:
            assert [s.split()[0] for s in sent] == ["SET", "SELECT", "SELECT", "SELECT"], sent
            assert sent[0] == ("SET default_transaction_read_only = on;"   # one round trip
                               " SET client_connection_check_interval = 1000")
            # the look-back check's time expression came from the catalog query's types
            with statements(PgConnection) as later:
                info = reader.impl._column_info(reader.conn, reader.audit_table, "created_at")
            assert later == [] and info is not None and info[0] == "timestamp without time zone"
            with reader.read() as conn:
                assert sorted((r["change_id"], r["state"])
                              for r in list_current(conn, "setright_audit_log")
                              ) == [("a", "FAILED"), ("b", "APPLIED")]
        finally:
            reader.close()


def test_a_row_a_foreign_runner_appended_is_read_through_the_meta_query(
        server_store_url: str) -> None:  # noqa: F811
    """The log's highest id comes with the meta values: a row above the fold point is seen."""
    store = _folded_store(server_store_url)
    try:
        audit(store, "b", "FAILED", at_ms=T0 + 10**6, error="late")   # autocommit, no fold
    finally:
        store.close()
    reader = Store.open_reader(_url(server_store_url))
    try:
        with reader.read() as conn:
            seen = current_state(conn, "b")
        assert seen is not None and (seen.state, seen.error_summary) == ("FAILED", "late")
    finally:
        reader.close()


def test_a_server_store_too_old_to_read_needs_a_writer(server_store_url: str) -> None:  # noqa: F811
    store = _folded_store(server_store_url)
    try:
        with store.write(state=False) as tx:
            key = store.impl.quote("key")
            tx.execute(f"DELETE FROM setright_meta WHERE {key} = 'schema_version'")
    finally:
        store.close()
    with pytest.raises(StoreError, match="needs an upgrade"):
        Store.open_reader(_url(server_store_url))


def test_a_server_store_for_another_audit_table_is_refused(
        server_store_url: str) -> None:  # noqa: F811
    """Whether the other table is missing (an empty stand-in) or there."""
    store = _folded_store(server_store_url)
    try:
        with pytest.raises(StoreError, match="folds audit table 'setright_audit_log'"):
            Store.open_reader(_url(server_store_url), "other_audit_log")
        with store.write(state=False) as tx:
            tx.execute(store.impl.audit_table_ddl("other_audit_log", tx))
    finally:
        store.close()
    with pytest.raises(StoreError, match="folds audit table 'setright_audit_log'"):
        Store.open_reader(_url(server_store_url), "other_audit_log")


def test_an_audit_table_without_flamingock_columns_is_refused(
        server_store_url: str) -> None:  # noqa: F811
    """The layout check reads the columns the catalog query returned."""
    store = _folded_store(server_store_url)
    try:
        with store.write(state=False) as tx:
            tx.execute("ALTER TABLE setright_audit_log DROP COLUMN change_order")
    finally:
        store.close()
    with pytest.raises(StoreError, match="not a Flamingock-layout audit log") as caught:
        Store.open_reader(_url(server_store_url))
    assert caught.value.details == ["missing columns: change_order"]


# -- statistics after a large fold (PostgreSQL) ------------------------------------------


def _analyzed(store: Store) -> bool:
    return store.conn.execute(
        "SELECT count(*) FROM pg_stats WHERE schemaname = current_schema()"
        " AND tablename = 'setright_change_state'").fetchone()[0] > 0


def _foreign_rows(store: Store, count: int, first: int) -> None:
    """`count` APPLIED rows of new changes, straight into the log (no fold)."""
    store.conn.execute(
        "INSERT INTO setright_audit_log (change_id, state, created_at, target_system_id)"
        " SELECT 'c' || g, 'APPLIED', timestamp '2026-11-20 12:00' + g * interval '1 ms', 'app'"
        " FROM generate_series(?::int, ?::int) g", (first, first + count - 1))


@pytest.mark.parametrize("rows, analyzed", [(40, False), (60, True)])
def test_a_large_fold_refreshes_the_cache_statistics(monkeypatch: pytest.MonkeyPatch,
                                                     rows: int, analyzed: bool) -> None:
    """Readers plan the issue queries from them (no sequential scan of every change)."""
    from setright.db import postgres_store

    monkeypatch.setattr(postgres_store, "ANALYZE_AFTER_ROWS", 50)
    with store_database("postgresql") as url_text:
        store = Store.open(_url(url_text), clock=FixedClock(T0))
        try:
            _foreign_rows(store, rows, 1)
            assert store.refresh() == rows
            assert _analyzed(store) is analyzed
        finally:
            store.close()


def test_a_fold_that_is_a_small_share_of_an_analyzed_cache_leaves_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A tenth of the rows the table had when analyzed, as autovacuum counts."""
    from setright.db import postgres_store

    monkeypatch.setattr(postgres_store, "ANALYZE_AFTER_ROWS", 5)
    with store_database("postgresql") as url_text:
        store = Store.open(_url(url_text), clock=FixedClock(T0))
        try:
            _foreign_rows(store, 200, 1)
            store.refresh()
            analyzed_at = _reltuples(store)
            assert analyzed_at == 200
            _foreign_rows(store, 10, 201)   # 10 < 200 / 10: left to autovacuum
            store.refresh()
            assert _reltuples(store) == 200
            _foreign_rows(store, 30, 211)   # 30 ≥ 210 / 10
            store.refresh()
            assert _reltuples(store) == 240
        finally:
            store.close()


def _reltuples(store: Store) -> float:
    return float(store.conn.execute(
        "SELECT reltuples FROM pg_class WHERE oid = to_regclass('setright_change_state')"
    ).fetchone()[0])
