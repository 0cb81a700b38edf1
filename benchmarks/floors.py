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
* `bookkeeping ROOT EMPTY OUT`: `run`, but each commit holds the statements the store's
  rules require of a runner per change (docs/architecture.md, "What one change
  costs"): the lease read, the fenced target transaction, and one store
  transaction with the guarded updates of the operation and of the task ending and
  the next one starting, their three events, the APPLIED and next STARTED audit
  rows and the serial; into copies (in OUT) of the store and target that setright
  created in the project EMPTY, which has no changes.

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


def bookkeeping(root: str, empty: str, out: str) -> None:
    import shutil

    import yaml

    folder = Path(out)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copyfile(Path(empty) / ".setright" / "audit.db", folder / "audit.db")
    shutil.copyfile(Path(empty) / "data" / "bench.db", folder / "bench.db")
    target, store = _durable(folder / "bench.db"), _durable(folder / "audit.db")
    docs = [(path, yaml.load(path.read_text(), Loader=yaml.CSafeLoader))
            for path in sorted((Path(root) / "changes" / "bench").glob("*.yaml"))]
    apply_id, token, actor, lock = "ap-" + "0" * 26, "f" * 16, "floor@bench.example", "target:bench"
    checksums = ["c1:" + hashlib.sha256(path.read_bytes()).hexdigest() for path, _ in docs]
    metadata = [json.dumps({"setright": {"actor": actor, "attempt": 1, "checksum": c,
                                         "source": "runner"}}, sort_keys=True) for c in checksums]
    fenced = " AND EXISTS (SELECT 1 FROM setright_applies WHERE id = ? AND lease_token = ?)"
    event = ("INSERT INTO setright_events (at, apply_id, change_id, kind, old_state, new_state,"
             " actor, source, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, 'runner', ?)")
    serial = "UPDATE setright_meta SET value = CAST(value AS INTEGER) + 1 WHERE \"key\" = 'serial'"
    at = _iso(time.time_ns() // 1_000_000)
    store.execute("BEGIN IMMEDIATE")  # the lock, then the apply with its tasks and operations
    store.execute("INSERT INTO setright_locks (name, lock_id, owner, operation, acquired_at,"
                  " expires_at) VALUES (?, ?, ?, 'run', ?, ?)", (lock, token, actor, at, "9" * 4))
    store.execute("INSERT INTO setright_applies (id, target, state, attempt, max_attempts,"
                  " plan_json, created_at, updated_at) VALUES (?, 'bench', 'pending', 0, 3, '{}',"
                  " ?, ?)", (apply_id, at, at))
    store.executemany("INSERT INTO setright_tasks (apply_id, position, change_id, checksum,"
                      " transactional, recovery_strategy, state, attempt) VALUES (?, ?, ?, ?, 1,"
                      " 'MANUAL_INTERVENTION', 'pending', 0)",
                      [(apply_id, n, doc["id"], checksums[n - 1])
                       for n, (_, doc) in enumerate(docs, 1)])
    store.executemany("INSERT INTO setright_operations (apply_id, change_id, seq, statement, hash,"
                      " state) VALUES (?, ?, 1, ?, ?, 'pending')",
                      [(apply_id, doc["id"], doc["apply"],
                        "h1:" + hashlib.sha256(doc["apply"].encode()).hexdigest())
                       for _, doc in docs])
    store.execute(event, (at, apply_id, None, "apply", None, "pending", actor, None))
    store.execute(serial)
    store.execute("COMMIT")
    store.execute("BEGIN IMMEDIATE")  # the apply starts under the lease
    store.execute("UPDATE setright_applies SET state = ?, attempt = 1, started_at = ?,"
                  " updated_at = ?, lease_owner = ?, lease_token = ?, lease_expires_at = ?"
                  " WHERE id = ? AND state IN (?)", ("running", at, at, actor, token, "9" * 4,
                                                     apply_id, "pending"))
    store.execute(event, (at, apply_id, None, "apply", "pending", "running", actor,
                          json.dumps({"attempt": 1})))
    store.execute(serial)
    store.execute("COMMIT")
    target.execute("INSERT INTO setright_runner_fence (id, lock_id, owner, claimed_at)"
                   " VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET lock_id = excluded.lock_id",
                   (token, actor, at))
    audit = ('INSERT INTO "setright_audit_log" (execution_id, change_id, author, created_at,'
             " state, invoked_method, source_file, metadata, execution_millis,"
             " execution_hostname, type, tx_strategy, target_system_id, change_order,"
             " recovery_strategy, transaction_flag, system_change) VALUES (?, ?, ?, ?, ?,"
             " 'apply', ?, ?, ?, 'floor', 'STANDARD_TEMPLATE', 'TX_SEPARATE_WITH_MARKER',"
             " 'bench', ?, 'MANUAL_INTERVENTION', 1, 0)")

    def audit_row(n: int, state: str, ms: int, millis: int | None) -> tuple[Any, ...]:
        path, doc = docs[n - 1]
        return (apply_id, doc["id"], doc["author"], ms, state,
                f"changes/bench/{path.name}", metadata[n - 1], millis, path.name)

    def begin_task(n: int, at: str, events: list[tuple[Any, ...]]) -> None:
        store.execute("SELECT change_id, audit_id, state, created_at, created_ms,"
                      " target_system_id, tx_strategy, recovery_strategy, execution_id,"
                      " error_summary FROM setright_change_state WHERE change_id = ?",
                      (docs[n - 1][1]["id"],)).fetchone()
        store.execute("UPDATE setright_tasks SET state = ?, attempt = ?, started_at = ?,"
                      " error = ?, completed_at = ? WHERE apply_id = ? AND position = ?"
                      " AND state IN (?)" + fenced,
                      ("running", 1, at, None, None, apply_id, n, "pending", apply_id, token))
        events.append((at, apply_id, docs[n - 1][1]["id"], "task", "pending", "running", actor,
                       json.dumps({"position": n})))

    def store_write(body: Any) -> None:
        store.execute("BEGIN IMMEDIATE")
        now = time.time_ns() // 1_000_000
        store.execute('SELECT lock_id, owner, expires_at, (SELECT max(id) FROM'
                      ' "setright_audit_log") FROM setright_locks WHERE name = ?',
                      (lock,)).fetchone()
        events: list[tuple[Any, ...]] = []
        rows = body(now, _iso(now), events)
        store.executemany(event, events)
        store.executemany(audit, rows)
        store.execute(serial)
        store.execute("COMMIT")

    def first(now: int, at: str, events: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        begin_task(1, at, events)
        return [audit_row(1, "STARTED", now, None)]

    store_write(first)
    for n, (_, doc) in enumerate(docs, 1):
        started = time.time_ns() // 1_000_000   # the lease: as the store write read it
        target.execute("BEGIN IMMEDIATE")
        target.execute("SELECT lock_id FROM setright_runner_fence WHERE id = 1").fetchone()
        target.execute(doc["apply"])
        target.execute("INSERT INTO setright_markers (apply_id, change_id, seq, committed_at)"
                       " VALUES (?, ?, 1, ?)", (apply_id, doc["id"], _iso(started)))
        target.execute("COMMIT")

        def completed(now: int, at: str, events: list[tuple[Any, ...]],
                      n: int = n, change: str = doc["id"], started: int = started
                      ) -> list[tuple[Any, ...]]:
            store.execute("UPDATE setright_operations SET state = ?, completed_at = ?, error = ?"
                          " WHERE apply_id = ? AND change_id = ? AND seq IN (?) AND state IN (?)"
                          + fenced, ("completed", at, None, apply_id, change, 1, "pending",
                                     apply_id, token))
            store.execute("UPDATE setright_tasks SET state = ?, completed_at = ? WHERE"
                          " apply_id = ? AND position = ? AND state IN (?)" + fenced,
                          ("completed", at, apply_id, n, "running", apply_id, token))
            events += [(at, apply_id, change, "operation", "pending", "completed", actor,
                        json.dumps({"seq": 1})),
                       (at, apply_id, change, "task", "running", "completed", actor,
                        json.dumps({"position": n}))]
            rows = [audit_row(n, "APPLIED", now, now - started)]
            if n < len(docs):
                begin_task(n + 1, at, events)
                rows.append(audit_row(n + 1, "STARTED", now, None))
            return rows

        store_write(completed)
    at = _iso(time.time_ns() // 1_000_000)
    store.execute("BEGIN IMMEDIATE")
    store.execute("UPDATE setright_applies SET state = ?, updated_at = ?, completed_at = ?,"
                  " lease_expires_at = ? WHERE id = ? AND state IN (?) AND lease_token = ?",
                  ("completed", at, at, at, apply_id, "running", token))
    store.execute(event, (at, apply_id, None, "apply", "running", "completed", actor, None))
    store.execute("INSERT INTO setright_change_state (change_id, audit_id, state, priority,"
                  " created_at, created_ms, target_system_id, tx_strategy, recovery_strategy,"
                  " execution_id) SELECT change_id, max(id), 'APPLIED', 2, '', max(created_at),"
                  ' target_system_id, tx_strategy, recovery_strategy, execution_id FROM'
                  ' "setright_audit_log" GROUP BY change_id')
    store.execute("UPDATE setright_meta SET value = (SELECT max(id) FROM \"setright_audit_log\")"
                  " WHERE \"key\" = 'folded_audit_id'")
    store.execute(serial)
    store.execute("COMMIT")
    store.execute("DELETE FROM setright_locks WHERE name = ?", (lock,))
    print(json.dumps({"applied": target.execute("SELECT count(*) FROM items").fetchone()[0]}))


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


FLOORS = {"fold": fold, "plan": plan, "redrive": redrive, "run": run, "bookkeeping": bookkeeping}

if __name__ == "__main__":
    FLOORS[sys.argv[1]](*sys.argv[2:])
