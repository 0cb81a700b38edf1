"""How fast `issue list` is on a large store, beside a full-log fold (Flamingock's way).

Builds a store with N audit rows (default 1,000,000: 100,000 changes with 10
rows each) of which 5,000 changes end in an issue, then measures:

* the first fold of the whole log into `setright_change_state` (once per store);
* `setright issue list` against the folded cache (the hot path: the fold is
  incremental, so only new rows are read);
* a full-log fold in Python, reading every row ordered by change (what a tool
  without the cache must do on every call).

Run: python benchmarks/issue_list.py [--rows N] [--issues K]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

T0 = 1_795_348_800_000


def build(path: Path, rows: int, issues: int) -> None:
    from setright.store import Store

    store = Store.open(path)
    per_change = 10
    changes = rows // per_change
    conn = store.conn
    conn.execute("BEGIN")
    batch = []
    for c in range(changes):
        change = f"change-{c:06d}"
        is_issue = c < issues
        for r in range(per_change):
            last = r == per_change - 1
            state = ("FAILED" if is_issue else "APPLIED") if last else ("STARTED" if r % 2 == 0 else "FAILED")
            batch.append((f"exec-{c}-{r}", change, "bench", T0 + c * 20 + r, state, "NON_TX",
                          "user-db", "MANUAL_INTERVENTION", "boom" if state == "FAILED" else None))
        if len(batch) >= 50_000:
            conn.executemany(
                'INSERT INTO setright_audit_log (execution_id, change_id, author, created_at, state,'
                ' tx_strategy, target_system_id, recovery_strategy, error_trace)'
                ' VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', batch)
            batch.clear()
    if batch:
        conn.executemany(
            'INSERT INTO setright_audit_log (execution_id, change_id, author, created_at, state,'
            ' tx_strategy, target_system_id, recovery_strategy, error_trace)'
            ' VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', batch)
    conn.execute("COMMIT")
    store.close()


def timed(label: str, fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    print(f"{label:<48} {elapsed * 1000:10.1f} ms")
    return elapsed


def full_log_fold(path: Path) -> int:
    """Every row, ordered by change, folded in Python: no cache, no index help."""
    import sqlite3

    from setright.store.states import priority_of
    from setright.timeutil import ms_from_any

    conn = sqlite3.connect(path)
    current: dict[str, tuple[int, int, str]] = {}
    for change, created, state in conn.execute(
            "SELECT change_id, created_at, state FROM setright_audit_log ORDER BY change_id, id"):
        key = (ms_from_any(created) or 0, priority_of(state), state)
        if change not in current or key[:2] >= current[change][:2]:
            current[change] = key
    conn.close()
    return sum(1 for _, _, s in current.values() if s in ("FAILED", "STARTED", "ROLLBACK_FAILED"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--issues", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = root / ".setright" / "audit.db"
        (root / "setright.yaml").write_text("version: 1\nstore: {}\ntargets: {}\n")
        print(f"building {args.rows:,} audit rows, {args.issues:,} issues …")
        build(db, args.rows, args.issues)

        from setright.store import Store

        store = Store.open(db)
        timed("first fold of the whole log (once per store)", store.refresh)
        timed("incremental fold, nothing new", store.refresh)
        store.close()

        env = {**os.environ, "NO_COLOR": "1"}
        cmd = [sys.executable, "-m", "setright", "issue", "list", "--json"]
        out: list[str] = []

        def issue_list() -> None:
            proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=True)
            out.append(proc.stdout)

        timed("setright issue list --json (whole process)", issue_list)
        import json

        found = len(json.loads(out[-1])["issues"])
        timed("setright --help (whole process)", lambda: subprocess.run(
            [sys.executable, "-m", "setright", "--help"], capture_output=True, check=True))
        folded: list[int] = []
        timed("full-log fold in Python (Flamingock's way)", lambda: folded.append(full_log_fold(db)))
        print(f"issues found: issue list {found:,}, full fold {folded[0]:,}")
        assert found == folded[0] == args.issues


if __name__ == "__main__":
    main()
