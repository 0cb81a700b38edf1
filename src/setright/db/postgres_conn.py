"""The psycopg connection behind the seam's `Connection` (see `setright.db.postgres`).

psycopg is imported on first use, so SQLite users never need it. The connection
runs in autocommit mode; setright sends BEGIN/COMMIT/ROLLBACK itself. A cursor
keeps sqlite3's leniency: fetching from a statement without rows gives None / [].
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from setright.db import postgres_lexer as lexer
from setright.errors import SetrightError

_INSTALL = "pip install 'setright[postgres]'"


def driver() -> Any:
    """psycopg, imported on first use so SQLite users never need it."""
    try:
        import psycopg
    except ImportError:
        raise SetrightError(
            f"PostgreSQL URLs need the psycopg driver, which is not installed: {_INSTALL}"
        ) from None
    return psycopg


class PgCursor:
    """A psycopg cursor with sqlite3's leniency: fetching from a statement without rows
    gives None / [] instead of raising."""

    lastrowid: int | None = None

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    @property
    def description(self) -> Any:
        return self._cursor.description

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._cursor.description is not None else None

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall() if self._cursor.description is not None else []

    def __iter__(self) -> Any:
        return iter(self.fetchall())


class PgConnection:
    """The `Connection` protocol over one psycopg connection (in autocommit mode).

    SQL is written with `?` placeholders (translated to `%s`, see
    `postgres_lexer.translate_placeholders`); SQL without parameters is sent as is.
    """

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        #: How zone-less audit timestamps read (`store.timezone`, set by `prepare_store`).
        self.audit_timezone = "UTC"
        #: A reader's audit table column types, as `reader_catalog` read them: (table,
        #: column) → (`format_type` without modifier, pg_type name, typmod).
        self.known_columns: dict[tuple[str, str], tuple[str, str, int]] = {}

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> PgCursor:
        if parameters:
            text, count = lexer.translate_placeholders(sql)
            if count != len(parameters):
                raise ValueError(f"{count} placeholders, {len(parameters)} parameters: {sql}")
            return PgCursor(self.raw.execute(text, tuple(parameters)))
        return PgCursor(self.raw.execute(sql))

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> PgCursor:
        text, _count = lexer.translate_placeholders(sql)
        cursor = self.raw.cursor()
        try:
            cursor.executemany(text, [tuple(p) for p in parameters])
        except driver().Error as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):
                # a Ctrl-C inside psycopg's pipeline: leaving it failed ("cannot exit
                # pipeline mode while busy") and that error replaced the interrupt
                raise exc.__context__ from None
            raise
        return PgCursor(cursor)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != driver().pq.TransactionStatus.IDLE

    @property
    def backend_pid(self) -> int:
        return int(self.raw.info.backend_pid)

    def commit(self) -> None:
        if self.in_transaction:
            self.raw.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self.raw.execute("ROLLBACK")

    def cancel(self) -> None:
        """Abort the statement running now, from any thread (psycopg's cancel request)."""
        cancel = getattr(self.raw, "cancel_safe", None) or self.raw.cancel
        cancel()

    def close(self) -> None:
        self.raw.close()
