"""Database servers for tests: a fresh, randomly named database per test.

`pg_url` creates `setright_test_<hex>` on the server named by `SETRIGHT_TEST_POSTGRES`
(default: the machine's local PostgreSQL), yields its URL text and drops it afterwards
(`WITH (FORCE)`, so a connection a failed test left open does not keep it). When the
server cannot be reached the test is skipped with the reason — except under `CI=true`,
where it fails: CI must never go green by skipping the server tests.

`pg_schema_url` is the fast variant for tests that stay in the current schema: one
database per test module, a fresh schema per test. Use a fixture by importing it into the
test module (`from serverhelp import pg_url`).
The MySQL counterpart (`mysql_url`, `SETRIGHT_TEST_MYSQL`) is added to this file by the
MySQL work, following the same pattern.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

from setright.db.url import mask_password

PG_ENV = "SETRIGHT_TEST_POSTGRES"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


def unreachable(reason: str) -> NoReturn:
    """Skip off CI, fail on CI."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: server tests may not be skipped)", pytrace=False)
    pytest.skip(reason)


def with_database(url: str, database: str) -> str:
    """`url` naming `database` instead of its own (query parameters kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def pg_admin_url() -> str:
    return os.environ.get(PG_ENV, PG_DEFAULT)


def pg_admin_connect(url: str | None = None) -> Any:
    """An autocommit psycopg connection to the admin database, or skip/fail."""
    url = url or pg_admin_url()
    try:
        import psycopg
    except ImportError:
        unreachable("psycopg is not installed (pip install 'setright[postgres]')")
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        unreachable(f"PostgreSQL at {mask_password(url)} is unreachable: {first}")


@contextmanager
def pg_database() -> Iterator[str]:
    """Create `setright_test_<hex>`, yield its URL, drop it."""
    admin_url = pg_admin_url()
    admin = pg_admin_connect(admin_url)
    name = "setright_test_" + secrets.token_hex(6)
    try:
        admin.execute(f"CREATE DATABASE {name}")
        yield with_database(admin_url, name)
    finally:
        try:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            admin.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    with pg_database() as url:
        yield url


@pytest.fixture(scope="module")
def pg_module_url() -> Iterator[str]:
    """One database for a whole test module (creating a database takes a second or two)."""
    with pg_database() as url:
        yield url


@contextmanager
def pg_schema(database_url: str) -> Iterator[str]:
    """A new, empty schema in that database, as the URL's current schema
    (`?options=-csearch_path=…`): as isolated as a database for everything setright does
    in `current_schema()`, and fast. Dropped afterwards."""
    schema = "t_" + secrets.token_hex(6)
    admin = pg_admin_connect(database_url)
    try:
        admin.execute(f"CREATE SCHEMA {schema}")
        separator = "&" if "?" in database_url else "?"
        yield f"{database_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        try:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        finally:
            admin.close()


@pytest.fixture
def pg_schema_url(pg_module_url: str) -> Iterator[str]:
    """A new, empty schema in the module's database (`pg_schema`), dropped after the test."""
    with pg_schema(pg_module_url) as url:
        yield url


#: The audit store backends a `store_url` test runs on.
STORE_BACKENDS = ("sqlite", "postgresql", "mysql")
SQLITE_STORE = "sqlite:///.setright/audit.db"


@contextmanager
def store_database(backend: str) -> Iterator[str]:
    """The URL of a new, empty audit store database on `backend` (SQLite: the project's
    default file, relative to its setright.yaml), dropped afterwards."""
    if backend == "sqlite":
        yield SQLITE_STORE
    elif backend == "postgresql":
        with pg_database() as url:
            yield url
    else:
        from serverhelp_mysql import mysql_database

        with mysql_database() as url:
            yield url


@pytest.fixture(params=STORE_BACKENDS)
def store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty audit store on each backend in turn (one database per test)."""
    with store_database(request.param) as url:
        yield url


@pytest.fixture(params=STORE_BACKENDS[1:])
def server_store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty audit store database on each server backend in turn."""
    with store_database(request.param) as url:
        yield url
