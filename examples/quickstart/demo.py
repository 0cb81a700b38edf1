"""The quickstart, end to end: real failures, then resolution-as-code fixes them.

Copies this example to a fresh temporary folder (so a clone's git state never
matters) and drives the whole story with the real `setright` CLI:

  1. `run` hits the three issues of Flamingock's documentation and a spent
     retry budget;
  2. `issue list` / `issue get` explain them;
  3. resolution files are written, validated, planned (text and a Markdown PR
     comment), committed and applied;
  4. the orders target is fixed and its failed apply redriven;
  5. `run` completes everything; `history` shows what was done.

Usage: python examples/quickstart/demo.py [--keep DIR] [--transcript FILE]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tour import Tour, fill_reason, markdown, replace_section, section  # noqa: E402

HERE = Path(__file__).resolve().parent
GENERATED_BY = "examples/quickstart/demo.py --readme README.md"


class Demo(Tour):
    def sql(self, target: str, statement: str) -> None:
        """What an operator does by hand in a target database."""
        conn = sqlite3.connect(self.root / "data" / f"{target}.db")
        with conn:
            conn.executescript(statement)
        conn.close()
        self.shell(f'sqlite3 data/{target}.db "{statement}"')


def story(demo: Demo) -> None:
    d = demo
    d.say("1. A runner dies in the middle of user-data-sync-v2 (non-transactional)")
    d.setright("run", "-t", "user-db", expect=(1, 137, -9),
               env={"SETRIGHT_FAULT": "crash-after:user-data-sync-v2:1"})
    d.note("the runner process was killed right after the first batch committed; "
           "its apply is still 'running' and its lease expires in 2 s (lock.ttl)")
    time.sleep(2.5)

    d.say("2. The next run reaps it and hits the other failures")
    d.setright("run", expect=1)

    d.say("3. What needs a human?")
    d.setright("issue", "list", "--exit-code", expect=3)
    d.setright("issue", "get")

    d.say("4. Decide, fix by hand where needed, and write it down as code")
    # user-data-sync-v2: batch 1 committed (the markers say so); finish batch 2 by hand.
    d.sql("user", "UPDATE users SET profile_v = 2 WHERE id > 2;")
    # cache-warming-q4: revert the committed first insert and drop the stale entry.
    d.sql("cache", "DELETE FROM cache_entries WHERE key IN ('q4:homepage', 'q4:top-products');")
    # payment-processing: its rollback restored the statuses before it failed; fix the fee.
    change = d.root / "changes/payments/_0002__payment-processing.yaml"
    change.write_text(change.read_text().replace("VALUES (0, 'fee')", "VALUES (35, 'fee')")
                      .replace("  DELETE FROM payment_batches WHERE batch = 'q4';\n", ""))
    d.note("fixed the fee amount (0 → 35 cents) and the rollback script in "
           "changes/payments/_0002__payment-processing.yaml: it has not been applied, so "
           "editing it is allowed")
    d.write("resolutions/2026-11-22-incident-4711.yaml", """\
version: 1
reason: >-
  Checked each target after the Q4 deploy. user-db: batch 2 of the profile
  migration applied by hand. cache: reverted the homepage entry and removed the
  stale top-products entry. payments: the rollback restored every status before
  it failed; the fee amount is fixed in the change file.
ticket: OPS-4711
resolutions:
  - change: user-data-sync-v2
    resolution: APPLIED
    expect: STARTED
    target: user-db
  - change: cache-warming-q4
    resolution: ROLLED_BACK
    expect: FAILED
    target: cache
  - change: payment-processing
    resolution: ROLLED_BACK
    expect: ROLLBACK_FAILED
    target: payments
""")
    d.setright("validate")

    d.say("5. Review the plan (as a pull-request comment, too), then apply it")
    d.setright("plan")
    (d.root / "plan-comment.md").write_text(d.setright("plan", "--format", "markdown", show=False))
    print("  (saved as plan-comment.md: the comment a pull request would get)")
    d.git("add", "-A")
    d.git("commit", "-qm", "Resolve OPS-4711")
    d.setright("plan", "-o", "plan.json")
    d.setright("apply", "plan.json")

    d.say("6. Fix the orders target, then redrive its failed apply")
    d.sql("orders", "DELETE FROM orders WHERE id = 3;  -- the duplicate ext-1002")
    d.setright("issue", "get", "-c", "orders-external-id-unique", "--write", show=False)
    [redrive_file] = sorted((d.root / "resolutions").glob("*orders-external-id-unique.yaml"))
    fill_reason(redrive_file, "Removed duplicate order 3 (ext-1002) in orders")
    d.show_file(f"resolutions/{redrive_file.name}")
    print(redrive_file.read_text())
    d.setright("validate")
    d.git("add", "-A")
    d.git("commit", "-qm", "Redrive the orders apply")
    d.setright("plan", "--detailed-exitcode", expect=2)
    d.setright("apply", "--auto-approve")

    d.say("7. Run again: everything completes")
    d.setright("run")
    d.setright("issue", "list", "--exit-code")
    d.setright("history")


def check(root: Path) -> None:
    """The story's end state, asserted (the demo is also a test)."""
    store = sqlite3.connect(root / ".setright" / "audit.db")
    states = dict(store.execute("SELECT target, state FROM setright_applies"
                                " WHERE rowid IN (SELECT max(rowid) FROM setright_applies"
                                " GROUP BY target)").fetchall())
    assert states == {t: "completed" for t in ("user-db", "cache", "payments", "orders")}, states
    ledger = store.execute("SELECT entry_key, outcome FROM setright_ledger ORDER BY 1").fetchall()
    assert len(ledger) == 4 and all(o == "change" for _, o in ledger), ledger
    redriven = store.execute("SELECT count(*) FROM setright_applies WHERE target = 'orders'"
                             ).fetchone()[0]
    assert redriven == 1, "the orders apply was completed by its redrive, not replaced"
    users = sqlite3.connect(root / "data" / "user.db")
    assert users.execute("SELECT count(*) FROM users WHERE profile_v = 2").fetchone()[0] == 4
    cache = sqlite3.connect(root / "data" / "cache.db")
    assert cache.execute("SELECT count(*) FROM cache_entries WHERE key LIKE 'q4:%'"
                         ).fetchone()[0] == 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="run in this (new) folder and keep it")
    parser.add_argument("--transcript", type=Path, help="write the tour (Markdown) to this file")
    parser.add_argument("--readme", type=Path, help="replace the tour section of this README")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="setright-quickstart-") as tmp:
        root = args.keep or Path(tmp) / "quickstart"
        if root.exists():
            raise SystemExit(f"demo: {root} already exists")
        shutil.copytree(HERE, root, ignore=shutil.ignore_patterns(
            "demo.py", "__pycache__", ".setright", "data", "*.db*"))
        print(f"Quickstart project copied to {root}")
        demo = Demo(root)
        demo.git("init", "-q")
        demo.git("add", "-A")
        demo.git("commit", "-qm", "Quickstart project")
        story(demo)
        check(root)
        if args.transcript:
            args.transcript.write_text(markdown(demo.transcript), encoding="utf-8")
        if args.readme:
            replace_section(args.readme, GENERATED_BY, markdown(demo.transcript))
        print("\nDemo complete: every target completed, 4 resolutions recorded in the ledger.")
    return 0


def readme_tour(readme: Path) -> str:
    """The tour section currently in the README (for the test that keeps it true)."""
    return section(readme, GENERATED_BY)


if __name__ == "__main__":
    raise SystemExit(main())
