"""Server stores for the `@postgresql` / `@mysql` rows: a fresh database each, dropped after.

The admin URLs come from `BENCH_POSTGRES` / `BENCH_MYSQL` (default: the local
servers). A row whose server cannot be reached is skipped with the reason.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import build

DIALECTS = ("postgresql", "mysql")
ADMIN_URLS = {"postgresql": ("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"),
              "mysql": ("BENCH_MYSQL", "mysql://root@127.0.0.1:3306/test")}


class Unavailable(Exception):
    """The server cannot be reached."""


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


@contextmanager
def fresh_database(dialect: str) -> Iterator[str]:
    """A new, empty database `setright_bench_<hex>` on the server: its URL; dropped after."""
    variable, default = ADMIN_URLS[dialect]
    admin_url = os.environ.get(variable, default)
    name = "setright_bench_" + secrets.token_hex(6)
    try:
        if dialect == "postgresql":
            import psycopg

            admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
            drop = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        else:
            import pymysql

            parts = urlsplit(admin_url)
            admin = pymysql.connect(host=parts.hostname, port=parts.port or 3306,
                                    user=parts.username, password=parts.password or "",
                                    autocommit=True, connect_timeout=3)
            drop = f"DROP DATABASE IF EXISTS {name}"
    except Exception as exc:  # a missing driver or an unreachable server: skip the row
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise Unavailable(f"{dialect} unreachable: {first}") from None
    try:
        admin.cursor().execute(f"CREATE DATABASE {name}")
        yield _with_database(admin_url, name)
    finally:
        try:
            admin.cursor().execute(drop)
        finally:
            admin.close()


def fill_server_store(url: str, rows: int, issues: int, dialect: str) -> None:
    """setright's store at `url` holding the generated log (set-based, one transaction)."""
    from setright.db.url import parse_url
    from setright.store import Store

    store = Store.open(parse_url(url, Path.cwd()))
    try:
        with store.write() as tx:
            build.fill_audit_log(tx, store.impl.quote(store.audit_table), rows, issues,
                                 build.Dialect(dialect))
    finally:
        store.close()
