"""The PyMySQL connection behind the seam's `Connection` (see `setright.db.mysql`).

PyMySQL is imported on first use, so SQLite users never need it. Row counts
are rows matched (CLIENT_FOUND_ROWS) and whether a transaction is open comes
from the server's status flags, so an implicit commit shows at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from setright.db import mysql_lex
from setright.db.impl import DatabaseUnavailable
from setright.db.url import DbUrl
from setright.errors import SetrightError


def driver() -> Any:
    """PyMySQL, imported on first use so SQLite users never need it."""
    try:
        import pymysql
    except ImportError:
        raise SetrightError("MySQL/MariaDB URLs need the PyMySQL driver",
                            ["pip install 'setright[mysql]'"]) from None
    return pymysql


class WriteLockTimeout(SetrightError):
    """Another setright writer held the store's write lock for longer than we wait."""


class MysqlConnection:
    """PyMySQL behind the seam's `Connection`: `?` placeholders, autocommit plus explicit
    transactions, and the server's own word on whether a transaction is open."""

    def __init__(self, raw: Any, url: DbUrl, *, read_only: bool) -> None:
        self.raw = raw
        self.url = url
        self.read_only = read_only
        self.write_lock: str | None = None

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        cursor = self.raw.cursor()
        if parameters:
            cursor.execute(mysql_lex.translate_placeholders(sql), tuple(parameters))
        else:
            cursor.execute(sql)
        return cursor

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any:
        cursor = self.raw.cursor()
        cursor.executemany(mysql_lex.translate_placeholders(sql), [tuple(p) for p in parameters])
        return cursor

    @property
    def in_transaction(self) -> bool:
        """From the server's status flags, so an implicit commit (any DDL) shows at once."""
        from pymysql.constants import SERVER_STATUS

        return bool(self.raw.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS)

    @property
    def exact_collation(self) -> str:
        """The collation of setright's tables on this server (`mysql.exact_collation`)."""
        from setright.db.mysql import exact_collation

        return exact_collation(self.raw)

    def thread_id(self) -> int:
        return int(self.raw.thread_id())

    def close(self) -> None:
        try:
            self.raw.close()
        except Exception:  # noqa: BLE001 - already closed or the server is gone
            pass


def _cause(exc: BaseException) -> str:
    code = exc.args[0] if exc.args else None
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if code in (1045, 1698):
        return "access denied" + (f" ({text.split('(')[0].strip()})" if "for user" in text else "")
    if code == 1049:
        return "unknown database"
    if code == 2003:
        return "server not reachable (" + text.rsplit("(", 1)[-1].rstrip(")") + ")"
    return f"{code}: {text}" if code else text


def unavailable(url: DbUrl, exc: BaseException) -> DatabaseUnavailable:
    """One line: where, and why — never the password."""
    cause = _cause(exc)
    if url.password:
        cause = cause.replace(url.password, "***")
    cause = " ".join(cause.split())
    code = exc.args[0] if exc.args else None
    return DatabaseUnavailable(f"cannot connect to {url.where}: {cause}", cause=cause,
                               missing=code == 1049)


def connect_raw(url: DbUrl, *, database: str | None, read_timeout: float | None) -> Any:
    pymysql = driver()
    from pymysql.constants import CLIENT

    options = url.params()  # the URL's own, checked and typed by parse_url
    options.setdefault("read_timeout", read_timeout)
    options.setdefault("write_timeout", read_timeout)
    session_timeout = options["read_timeout"]
    # PyMySQL's connect_timeout bounds the TCP connect only: a port that accepts and never
    # greets (PostgreSQL's 5432, typed for 3306) would hold the handshake for the whole
    # read timeout (a store's is minutes; a target's, none). So the handshake reads with
    # connect_timeout, and the session with its own.
    options["read_timeout"] = (url.connect_timeout if session_timeout is None
                               else min(session_timeout, url.connect_timeout))
    conn = pymysql.connect(
        host=url.host, port=url.port, user=url.user or "", password=url.password or "",
        database=database, charset="utf8mb4", collation="utf8mb4_bin", autocommit=True,
        connect_timeout=url.connect_timeout, client_flag=CLIENT.FOUND_ROWS, **options)
    conn._read_timeout = session_timeout   # PyMySQL applies it from the next read on
    return conn
