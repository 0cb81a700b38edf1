"""Building a reader's session tables from the store's own schema builder.

A reader on a server makes empty stand-ins for the tables its store lacks with the
same columns a new store would give them. The store's schema builder (which creates
real tables, indexes and seed rows) is run against a `TempBuilder`: a connection proxy
that turns `CREATE TABLE` of a wanted table into the dialect's temporary form, sends an
`ALTER TABLE` of one to that temporary table, leaves every other write out and passes
catalog reads through. Each dialect subclasses it together with its connection class, so
`impl_of` still finds the dialect.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any


class TempBuilder:
    """Runs a store schema builder so that it makes TEMP tables of `names` only.

    `CREATE TABLE` of a listed table becomes `CREATE TEMP TABLE`; an `ALTER TABLE` of one
    goes to its TEMP copy; every other write (indexes, other tables, seed rows) is left
    out, and catalog reads pass through — the builder then sees the store as it is."""

    create_temp = "CREATE TEMP TABLE"
    alter_prefix = "pg_temp."

    def __init__(self, conn: Any, names: Collection[str]) -> None:
        self.conn = conn
        self.names = {name.lower() for name in names}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        words = sql.split()
        head = " ".join(words[:2]).upper()
        if head == "CREATE TABLE":
            table = words[5] if words[2:5] == ["IF", "NOT", "EXISTS"] else words[2]
            if _bare(table.split("(")[0]) in self.names:
                return self.conn.execute(self.create_temp + sql.split("TABLE", 1)[1],
                                         parameters)
            return _Nothing()
        if head == "ALTER TABLE":
            if _bare(words[2]) in self.names:
                return self.conn.execute(f"ALTER TABLE {self.alter_prefix}{words[2]} "
                                         + sql.split(words[2], 1)[1], parameters)
            return _Nothing()
        if words and words[0].upper() in ("INSERT", "UPDATE", "DELETE", "CREATE", "DROP"):
            return _Nothing()
        return self.conn.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        return _Nothing()


def _bare(name: str) -> str:
    """A table name without its quotes, lower case."""
    return name.strip('`"').lower()


class _Nothing:
    rowcount = 0
    lastrowid = None
    description = None

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list[Any]:
        return []

    def __iter__(self) -> Any:
        return iter(())


