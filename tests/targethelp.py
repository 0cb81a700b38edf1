"""Projects whose targets live on a database server (the store stays a SQLite file).

`server_project` writes a `Project` whose target `app` is the given server URL;
`pg_rows` / `mysql_rows` read the target from outside setright; `masked` makes
rendered output independent of the random database name, backend pids and
connection ids, on top of `runhelp.normalise` (apply ids, times, owners).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from runhelp import _OWNER, Project, mask
from setright.db import parse_url
from storehelp import T0


def server_project(root: Path, url: str, *, ttl: str = "60s", max_attempts: int = 1
                   ) -> Project:
    """A project on the fixed test timeline whose target `app` is `url`."""
    return Project(root, ttl=ttl, max_attempts=max_attempts, start_ms=T0, urls={"app": url})


def write_change(p: Project, name: str, text: str) -> None:
    """A change file of target `app` written as text, so a test knows every statement's line."""
    (p.root / "changes" / "app" / f"{name}.yaml").write_text(text)


def database_of(url: str) -> str:
    return parse_url(url, Path(".")).database or ""


def pg_rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return [tuple(row) for row in conn.execute(sql, params or None).fetchall()]


def mysql_rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    from setright.db.mysql import MysqlImpl

    conn = MysqlImpl().connect(parse_url(url, Path(".")))
    try:
        return [tuple(row) for row in conn.execute(sql, params or None).fetchall()]
    finally:
        conn.close()


_SESSION = re.compile(r"(backend|connection|KILL)([ (])\d+")


def masked(text: str, url: str) -> str:
    """`mask` (widths kept, so tables stay aligned), with every runner's owner, the test
    database's name and server session ids replaced."""
    text = _OWNER.sub("<owner>", mask(text))
    return _SESSION.sub(r"\1\2<id>", text.replace(database_of(url), "<db>"))
