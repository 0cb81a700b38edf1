"""Schema version 5: the events' plan indexes leave out the rows without a plan (the runner's
three events per change), on SQLite and PostgreSQL; MySQL/MariaDB has no partial index and
keeps the plain ones. A version 4 store upgrades in one write transaction, keeping its rows,
and the queries of those indexes still use them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from serverhelp import store_database, store_url  # noqa: F401
from setright.db.url import parse_url
from setright.store import Store
from setright.store.history import _events, _page_sql, ledger_history
from setright.store.schema import PLAN_EVENT_INDEXES, SCHEMA_VERSION
from setright.store.transitions import Provenance, record_event

#: the backends with partial indexes (MySQL/MariaDB has none: its indexes stay plain)
PARTIAL = ("sqlite", "postgresql")


@pytest.fixture(params=PARTIAL)
def partial_url(request: pytest.FixtureRequest) -> Any:
    """An empty audit store on each backend that has partial indexes."""
    with store_database(request.param) as url:
        yield url

EVENTS = "setright_events"
AT = "2026-11-22T12:00:00.000Z"


def open_store(url: str, root: Path) -> Store:
    return Store.open(parse_url(url, root))


def make_version_4(store: Store) -> None:
    """Give the store the plain plan indexes and `schema_version` 4 of a version 4 store,
    with a runner event (no plan) and two `cli` events of one plan."""
    impl = store.impl
    with store.write(state=False) as tx:
        for name, columns, _where in PLAN_EVENT_INDEXES:
            impl.drop_index(tx, name, EVENTS)
            impl.create_index(tx, name, EVENTS, list(columns))
        tx.execute(f"UPDATE setright_meta SET value = '4' WHERE {impl.quote('key')}"
                   " = 'schema_version'")
    with store.write() as tx:
        record_event(tx, at=AT, kind="apply", prov=Provenance(actor="runner"), apply_id="ap-1",
                     old_state="pending", new_state="running")
        cli = Provenance(actor="ops", source="cli", plan_id="pl-1", reason="why")
        record_event(tx, at=AT, kind="mark", prov=cli, change_id="c-1",
                     old_state="FAILED", new_state="MANUAL_MARKED_AS_APPLIED")
        record_event(tx, at=AT, kind="apply", prov=cli, apply_id="ap-2",
                     old_state="failed", new_state="failed_retryable")


def index_definitions(store: Store) -> dict[str, str]:
    """The plan indexes' definitions as the database tells them (lower case)."""
    names = [name for name, _c, _w in PLAN_EVENT_INDEXES]
    dialect = store.url.dialect
    if dialect == "sqlite":
        rows = store.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
            (EVENTS,)).fetchall()
    elif dialect == "postgresql":
        rows = store.conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            " AND tablename = ?", (EVENTS,)).fetchall()
    else:
        rows = store.conn.execute(
            "SELECT INDEX_NAME, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX)"
            " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()"
            " AND TABLE_NAME = ? GROUP BY INDEX_NAME", (EVENTS,)).fetchall()
    found = {str(name).lower(): str(sql).lower() for name, sql in rows}
    return {name: found[name] for name in names if name in found}


def is_partial(store: Store, definition: str) -> bool:
    return "where" in definition


def counts(store: Store) -> tuple[Any, ...]:
    return store.conn.execute(f"SELECT count(*), count(plan_id) FROM {EVENTS}").fetchone()


def test_a_version_4_store_upgrades_to_5_with_partial_plan_indexes(
        tmp_path: Path, store_url: str) -> None:  # noqa: F811
    store = open_store(store_url, tmp_path)
    new = index_definitions(store)  # a new store is made at version 5
    assert len(new) == 2
    assert all(is_partial(store, d) for d in new.values()) == store.impl.partial_indexes
    make_version_4(store)
    before = index_definitions(store)
    assert len(before) == 2 and not any(is_partial(store, d) for d in before.values())
    store.close()

    store = open_store(store_url, tmp_path)
    try:
        assert SCHEMA_VERSION == 5 and store.meta("schema_version") == "5"
        after = index_definitions(store)
        assert set(after) == set(before)
        if store.impl.partial_indexes:
            for definition in after.values():
                assert is_partial(store, definition) and "plan_id is not null" in definition
        else:
            assert after == before  # MySQL/MariaDB: the plain indexes stay
        assert tuple(counts(store)) == (3, 2)
        events = _events(store.conn, ["pl-1"])
        assert [e["kind"] for e, _ in events[("pl-1", None)]] == ["mark", "apply"]
        [row] = ledger_history(store.conn).rows
        assert (row["plan_id"], row["command"], row["actor"]) == ("pl-1", "audit fix", "ops")
    finally:
        store.close()


def test_the_upgrade_is_one_transaction(tmp_path: Path, partial_url: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed after the first index was made again: nothing of the upgrade is left. (On
    MySQL/MariaDB version 5 changes no index, and its DDL would commit by itself.)"""
    store_url = partial_url
    store = open_store(store_url, tmp_path)
    make_version_4(store)
    before = index_definitions(store)
    impl = store.impl
    store.close()
    assert impl.partial_indexes
    made: list[str] = []
    original = type(impl).create_partial_index

    def dies_on_the_second(self: Any, conn: Any, name: str, *args: Any) -> None:
        if made:
            raise KeyboardInterrupt("killed")
        original(self, conn, name, *args)
        made.append(name)

    monkeypatch.setattr(type(impl), "create_partial_index", dies_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        open_store(store_url, tmp_path)
    assert made == [PLAN_EVENT_INDEXES[0][0]]
    monkeypatch.undo()
    reader = Store.open_reader(parse_url(store_url, tmp_path))
    try:
        assert reader.meta("schema_version") == "4"
        assert index_definitions(reader) == before
        assert tuple(counts(reader)) == (3, 2)
    finally:
        reader.close()


def runner_events(store: Store, n: int) -> None:
    """`n` events as the runner writes them (no plan), so the planner weighs a real table."""
    rows = [(AT, f"ap-{i // 300}", f"c-{i}", "task", "pending", "running", "runner", "runner")
            for i in range(n)]
    with store.write() as tx:
        tx.executemany(f"INSERT INTO {EVENTS} (at, apply_id, change_id, kind, old_state,"
                       " new_state, actor, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    if store.url.dialect == "postgresql":
        store.conn.execute(f"ANALYZE {EVENTS}")


def explain(store: Store, sql: str, params: list[Any]) -> str:
    if store.url.dialect == "sqlite":
        rows = store.conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        return "\n".join(str(r[-1]) for r in rows)
    return "\n".join(str(r[0]) for r in store.conn.execute("EXPLAIN " + sql, params))


@pytest.mark.parametrize("query", ["history", "events"])
def test_the_plan_queries_still_use_the_partial_indexes(
        tmp_path: Path, partial_url: str, query: str) -> None:
    store_url = partial_url
    store = open_store(store_url, tmp_path)
    try:
        assert store.impl.partial_indexes
        make_version_4(store)
        store.close()
        store = open_store(store_url, tmp_path)
        runner_events(store, 5000)
        if query == "history":
            sql, params = _page_sql(store.conn, since=None, change_id=None, limit=20)
            wanted = "setright_events_source_idx"
        else:
            sql = (f"SELECT plan_id, at, kind FROM {EVENTS} WHERE plan_id IN (?, ?)"
                   " ORDER BY id")
            params, wanted = ["pl-1", "pl-2"], "setright_events_plan_idx"
        with store.read():
            assert wanted in explain(store, sql, params)
    finally:
        store.close()
