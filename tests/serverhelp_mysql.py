"""A throw-away MySQL/MariaDB database per test.

`SETRIGHT_TEST_MYSQL` names the server (default: the machine's local MariaDB).
Each test gets a database with a random name, dropped afterwards. An
unreachable server skips the test with the reason — except under `CI=true`,
where it fails, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from setright.db import DatabaseUnavailable, parse_url
from setright.errors import SetrightError

DEFAULT_MYSQL = "mysql://root@127.0.0.1:3306/test"


def mysql_server() -> str:
    return os.environ.get("SETRIGHT_TEST_MYSQL") or DEFAULT_MYSQL


def _unreachable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"MySQL test server unreachable under CI=true: {reason}")
    pytest.skip(f"MySQL test server unreachable: {reason}")


def with_database(url_text: str, database: str) -> str:
    """`url_text` pointing at `database` instead (query parameters kept)."""
    head, _, tail = url_text.partition("://")
    authority, _, rest = tail.partition("/")
    query = rest.partition("?")[2]
    return f"{head}://{authority}/{database}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def mysql_admin() -> Iterator[Any]:
    """One connection to the test server for the whole session (creating databases)."""
    from setright.db.mysql import MysqlImpl

    try:
        admin = MysqlImpl().connect(parse_url(mysql_server(), Path(".")))
    except (DatabaseUnavailable, SetrightError) as exc:
        _unreachable(exc.message)
        raise  # pragma: no cover - skip/fail raised
    yield admin
    admin.close()


@pytest.fixture
def mysql_url(mysql_admin: Any) -> Iterator[str]:
    """The URL of a fresh, empty database on the test server, dropped afterwards."""
    name = f"setright_t_{secrets.token_hex(6)}"
    mysql_admin.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    try:
        yield with_database(mysql_server(), name)
    finally:
        mysql_admin.execute(f"DROP DATABASE IF EXISTS {name}")


@contextmanager
def mysql_database() -> Iterator[str]:
    """Create a randomly named database, yield its URL, drop it (skip/fail when unreachable)."""
    from setright.db.mysql import MysqlImpl

    try:
        admin = MysqlImpl().connect(parse_url(mysql_server(), Path(".")))
    except (DatabaseUnavailable, SetrightError) as exc:
        _unreachable(exc.message)
        raise  # pragma: no cover - skip/fail raised
    name = f"setright_t_{secrets.token_hex(6)}"
    try:
        admin.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        yield with_database(mysql_server(), name)
    finally:
        try:
            admin.execute(f"DROP DATABASE IF EXISTS {name}")
        finally:
            admin.close()
