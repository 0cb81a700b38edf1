"""An error trace's summary (first non-blank line, stripped, cut to 160 characters) is one
rule on every backend: Python's `error_summary`, and each server's SQL for the fold."""

from __future__ import annotations

import random

from setright.store import Store
from setright.store.audit import error_summary

#: pieces traces are made of: every kind of white space and line break Python or a
#: server's regular expressions might know, letters, and a marker of the 160th place
_PIECES = ["", " ", "  ", "\t", "\n", "\r", "\r\n", "\f", "\v", "\u00a0", "\u2028",
           "\u2029", "\x85", "\x1c", "\u3000", "\u200b", "x", "é", "boom", "…", "😀",
           "Caused by: java.sql.SQLException", "a" * 150, "b" * 9]


def traces() -> list[str]:
    rng = random.Random(20261203)
    made = ["", " ", "\n", "boom", " boom \n", "\n\n  boom\r\nsecond", "no such database: dev",
            "vvv\v", "\u00a0boom\u2028next"]
    made += ["".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 9)))
             for _ in range(1500)]
    return made


def test_every_backend_summarises_a_trace_as_python_does(backend_store: Store) -> None:
    store = backend_store
    conn, impl = store.conn, store.impl
    given = traces()
    charset = " CHARACTER SET utf8mb4" if store.url.dialect == "mysql" else ""
    conn.execute(f"CREATE TABLE traces (n INTEGER, t TEXT{charset})")
    conn.executemany("INSERT INTO traces (n, t) VALUES (?, ?)", list(enumerate(given)))
    got = [row[0] for row in conn.execute(
        f"SELECT {impl.error_summary_sql('t')} FROM traces ORDER BY n")]
    differ = [(trace, ours, error_summary(trace))
              for trace, ours in zip(given, got, strict=True) if ours != error_summary(trace)]
    assert differ == []
    assert sum(s is not None and len(s) == 160 for s in got) > 20   # some are cut
    assert got[:9] == [None, "", "", "boom", "boom", "boom", "no such database: dev", "vvv",
                       "\u00a0boom\u2028next"]
