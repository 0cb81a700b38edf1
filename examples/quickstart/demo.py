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
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
GIT_ID = ["-c", "user.email=ops@example.com", "-c", "user.name=Ops"]


@dataclass
class Demo:
    root: Path
    transcript: list[tuple[str, str, str]] = field(default_factory=list)  # (step, command, output)
    step: str = ""

    def say(self, title: str) -> None:
        self.step = title
        print(f"\n\033[1m== {title}\033[0m" if sys.stdout.isatty() else f"\n== {title}")

    def setright(self, *args: str, expect: int | tuple[int, ...] = 0,
                 env: dict[str, str] | None = None, show: bool = True) -> str:
        """Run the real CLI; print and record the command and its output."""
        command = "setright " + " ".join(_quote(a) for a in args)
        full_env = {**os.environ, "NO_COLOR": "1", "SETRIGHT_ACTOR": "ops@example.com",
                    **(env or {})}
        full_env.pop("SETRIGHT_STORE", None)
        full_env.pop("COLUMNS", None)  # the transcript is the README's: one fixed width
        proc = subprocess.run([sys.executable, "-m", "setright", *args], cwd=self.root,
                              env=full_env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        output = (proc.stdout + proc.stderr).rstrip("\n")
        prefix = " ".join(f"{k}={v}" for k, v in (env or {}).items())
        shown = f"{prefix} {command}".strip()
        print(f"$ {shown}")
        if show and output:
            print(output)
        expected = expect if isinstance(expect, tuple) else (expect,)
        if proc.returncode not in expected:
            raise SystemExit(f"demo: '{shown}' exited {proc.returncode}, expected {expect}\n"
                             f"{output}")
        self.transcript.append((self.step, shown, output))
        return proc.stdout

    def note(self, text: str) -> None:
        """A line of narration (printed, and a paragraph in the README tour)."""
        print(f"  ({text})")
        self.transcript.append((self.step, "", text))

    def sql(self, target: str, statement: str) -> None:
        """What an operator does by hand in a target database."""
        print(f"$ sqlite3 data/{target}.db \"{statement}\"")
        conn = sqlite3.connect(self.root / "data" / f"{target}.db")
        with conn:
            conn.executescript(statement)
        conn.close()
        self.transcript.append((self.step, f'sqlite3 data/{target}.db "{statement}"', ""))

    def write(self, relative: str, text: str) -> None:
        print(f"$ cat > {relative}")
        print(text.rstrip("\n"))
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.transcript.append((self.step, f"cat {relative}", text.rstrip("\n")))

    def git(self, *args: str) -> None:
        if shutil.which("git") is None:
            return
        subprocess.run(["git", *GIT_ID, *args], cwd=self.root, check=True, capture_output=True)
        print(f"$ git {' '.join(args)}")


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def fill_reason(path: Path, reason: str) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('reason: ""', f'reason: "{reason}"', 1), encoding="utf-8")


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
    d.transcript.append((d.step, f"cat resolutions/{redrive_file.name}",
                         redrive_file.read_text().rstrip("\n")))
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
            args.transcript.write_text(tour_markdown(demo.transcript), encoding="utf-8")
        if args.readme:
            replace_tour(args.readme, tour_markdown(demo.transcript))
        print("\nDemo complete: every target completed, 4 resolutions recorded in the ledger.")
    return 0


TOUR_BEGIN = "<!-- tour:begin (generated by examples/quickstart/demo.py --readme README.md) -->"
TOUR_END = "<!-- tour:end -->"


def tour_markdown(transcript: list[tuple[str, str, str]]) -> str:
    """The story as Markdown: a heading per step, a console block per command."""
    out: list[str] = []
    step = None
    for title, command, output in transcript:
        if title != step:
            out += [f"#### {title}", ""]
            step = title
        if not command:
            out += [f"*{output}*", ""]
        elif command.startswith("cat "):
            out += [f"`{command[4:]}`:", "", "```yaml", output, "```", ""]
        else:
            out += ["```console", f"$ {command}", *([output] if output else []), "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def replace_tour(readme: Path, tour: str) -> None:
    text = readme.read_text(encoding="utf-8")
    head, _, rest = text.partition(TOUR_BEGIN)
    _, _, tail = rest.partition(TOUR_END)
    if not rest:
        raise SystemExit(f"demo: {readme} has no {TOUR_BEGIN} marker")
    readme.write_text(f"{head}{TOUR_BEGIN}\n\n{tour}\n{TOUR_END}{tail}", encoding="utf-8")


def readme_tour(readme: Path) -> str:
    """The tour section currently in the README (for the test that keeps it true)."""
    text = readme.read_text(encoding="utf-8")
    return text.partition(TOUR_BEGIN)[2].partition(TOUR_END)[0].strip("\n") + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
