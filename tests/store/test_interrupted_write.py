"""A Ctrl-C that leaves a PostgreSQL store connection mid-command ends the write as an
interrupt, not as "the audit store is locked by another process" (then an internal error)."""

from __future__ import annotations

from pathlib import Path

import pytest

from serverhelp import pg_url  # noqa: F401 - fixture
from setright.db import parse_url
from setright.store import Store


def test_an_interrupt_in_begin_is_reported_as_the_interrupt(pg_url: str) -> None:  # noqa: F811
    """Before: BEGIN's cleanup ROLLBACK failed ("another command is already in progress")
    and that error replaced the interrupt."""
    store = Store.open(parse_url(pg_url, Path(".")))
    raw = store.conn.raw
    real_execute = type(store.conn).execute

    def interrupted(conn, sql, parameters=(), /):  # type: ignore[no-untyped-def]
        if sql.startswith("SET LOCAL lock_timeout"):
            raw.pgconn.send_query(b"SELECT pg_sleep(0.2)")   # the command left in flight
            raise KeyboardInterrupt
        return real_execute(conn, sql, parameters)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(type(store.conn), "execute", interrupted)
            with pytest.raises(KeyboardInterrupt), store.write():
                pass
    finally:
        store.close()
    after = Store.open(parse_url(pg_url, Path(".")))   # the server ended that transaction
    try:
        with after.write() as tx:
            assert tx.execute("SELECT 1").fetchone()[0] == 1
    finally:
        after.close()


def test_an_interrupt_inside_psycopgs_pipeline_stays_the_interrupt(pg_url: str) -> None:  # noqa: F811
    """psycopg's executemany runs in pipeline mode; a Ctrl-C there made leaving the pipeline
    fail ("cannot exit pipeline mode while busy"), and that error replaced the interrupt."""
    import psycopg

    store = Store.open(parse_url(pg_url, Path(".")))
    real_cursor = store.conn.raw.cursor

    class Interrupted:
        def executemany(self, *args: object) -> None:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt:
                raise psycopg.OperationalError("cannot exit pipeline mode while busy")

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(store.conn.raw, "cursor", lambda: Interrupted())
            with pytest.raises(KeyboardInterrupt):
                store.conn.executemany("INSERT INTO t VALUES (?)", [(1,)])
        assert store.conn.raw.cursor == real_cursor
    finally:
        store.close()
