"""The floors: the least work that answers each benchmark's question, as plain programs.

Each floor reads the same data as setright (the same files, the same store)
and writes with the same durability, without setright's code; `run.py` times
it as a whole process beside setright. Run: `python floors.py NAME ARGS…`.

* `fold STORE TABLE`: one `SELECT` of the whole audit log folded into a dict by
  change (latest `created_at`, then state priority, then id), printing the
  changes whose current state needs a human as JSON.
* `plan ROOT STORE`: every resolution file parsed with CSafeLoader, one indexed
  query per entry, a JSON line per entry.
* `redrive ROOT STORE APPLY_ID`: `import deepdiff, yaml`, the change file parsed,
  split with `sqlite3.complete_statement`, every statement hashed, the recorded
  operation rows read and compared.
* `run ROOT OUT`: every change file parsed; per change one target commit (the row
  and its marker) and one store commit (an audit row), WAL, `synchronous=FULL`.

STORE is a SQLite file path or a `postgresql://` / `mysql://` URL.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

PRIORITY = {"STARTED": 1, "APPLIED": 2, "FAILED": 3, "ROLLED_BACK": 4, "ROLLBACK_FAILED": 5,
            "MANUAL_MARKED_AS_APPLIED": 6, "MANUAL_MARKED_AS_ROLLED_BACK": 7}
ISSUE_STATES = frozenset({"STARTED", "FAILED", "ROLLBACK_FAILED"})


def connect(store: str) -> tuple[Any, str]:
    """A read connection and its placeholder."""
    if store.startswith(("postgresql://", "postgres://")):
        import psycopg

        return psycopg.connect(store), "%s"
    if store.startswith(("mysql://", "mariadb://")):
        from urllib.parse import urlsplit

        import pymysql

        url = urlsplit(store)
        return pymysql.connect(host=url.hostname, port=url.port or 3306, user=url.username,
                               password=url.password or "", database=url.path.lstrip("/")), "%s"
    return sqlite3.connect(f"file:{store}?mode=ro", uri=True), "?"


def fold(store: str, table: str) -> None:
    conn, _ = connect(store)
    cursor = conn.cursor()
    cursor.execute(f"SELECT change_id, created_at, state, id, error_trace, target_system_id"
                   f" FROM {table}")
    current: dict[str, tuple[Any, ...]] = {}
    get, priority = current.get, PRIORITY.get
    for row in cursor:
        prev = get(row[0])
        if prev is None or (row[1], priority(row[2], 0)) >= (prev[1], priority(prev[2], 0)):
            current[row[0]] = row
    issues = [{"change_id": r[0], "state": r[2], "target": r[5],
               "error_summary": (r[4] or "").strip().split("\n")[0] or None}
              for r in sorted(current.values(), key=lambda r: r[3]) if r[2] in ISSUE_STATES]
    json.dump({"issues": issues}, sys.stdout)


def plan(root: str, store: str) -> None:
    import yaml

    conn, mark = connect(store)
    cursor = conn.cursor()
    out = sys.stdout
    for path in sorted((Path(root) / "resolutions").glob("*.yaml")):
        doc = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
        for entry in doc.get("resolutions") or []:
            cursor.execute("SELECT state FROM setright_change_state WHERE change_id = " + mark,
                           (entry["change"],))
            found = cursor.fetchone()
            before = found[0] if found else None
            ok = before in (entry.get("expect") or [before])
            out.write(json.dumps({"file": path.name, "change": entry["change"], "before": before,
                                  "outcome": "change" if ok else "conflict",
                                  "after": "MANUAL_MARKED_AS_" + entry["resolution"]}) + "\n")


def redrive(root: str, store: str, apply_id: str) -> None:
    import deepdiff  # noqa: F401  (what a redrive check must load to explain a mismatch)
    import yaml

    [path] = (Path(root) / "changes" / "bench").glob("*.yaml")
    doc = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    statements, buffer = [], ""
    for line in doc["apply"].splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    hashes = ["h1:" + hashlib.sha256(s.encode()).hexdigest() for s in statements]
    conn, mark = connect(store)
    cursor = conn.cursor()
    cursor.execute("SELECT seq, statement, hash, state FROM setright_operations"
                   f" WHERE apply_id = {mark} ORDER BY seq", (apply_id,))
    recorded = cursor.fetchall()
    differ = [seq for (seq, text, _, _), mine in zip(recorded, statements, strict=False)
              if text != mine]
    print(json.dumps({"operations": len(recorded), "hashed": len(hashes), "differ": differ}))


def _durable(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def run(root: str, out: str) -> None:
    import yaml

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("target.db", "store.db"):
        for suffix in ("", "-wal", "-shm"):
            (folder / (name + suffix)).unlink(missing_ok=True)
    target, store = _durable(folder / "target.db"), _durable(folder / "store.db")
    target.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    target.execute("CREATE TABLE markers (apply_id TEXT, change_id TEXT, seq INTEGER,"
                   " committed_at TEXT, PRIMARY KEY (apply_id, change_id, seq))")
    store.execute("CREATE TABLE audit (id INTEGER PRIMARY KEY, change_id TEXT, state TEXT,"
                  " created_at INTEGER)")
    for path in sorted((Path(root) / "changes" / "bench").glob("*.yaml")):
        doc = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
        target.execute("BEGIN IMMEDIATE")
        target.execute(doc["apply"])
        target.execute("INSERT INTO markers VALUES ('floor', ?, 1, ?)", (doc["id"], time.time()))
        target.execute("COMMIT")
        store.execute("BEGIN IMMEDIATE")
        store.execute("INSERT INTO audit (change_id, state, created_at) VALUES (?, 'APPLIED', ?)",
                      (doc["id"], int(time.time() * 1000)))
        store.execute("COMMIT")
    print(json.dumps({"applied": target.execute("SELECT count(*) FROM items").fetchone()[0]}))


FLOORS = {"fold": fold, "plan": plan, "redrive": redrive, "run": run}

if __name__ == "__main__":
    FLOORS[sys.argv[1]](*sys.argv[2:])
