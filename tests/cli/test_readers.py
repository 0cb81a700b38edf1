"""Read commands never create or write, through the real CLI."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import chdir
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from planhelp import resolution_file
from setright.cli import cli
from setright.store import Store
from setright.timeutil import FixedClock
from storehelp import T0, make_flamingock_db, read_only

PLAN = "saved-plan.json"
MISTYPED = "sqlite:///.setright/audt.db"

#: Every read command (§9.3), with the arguments it needs.
READERS = [
    ("issue", "list"), ("issue", "list", "--exit-code"), ("issue", "list", "--json"),
    ("issue", "get"), ("issue", "get", "-c", "some-change"), ("status",), ("status", "--json"),
    ("audit", "list"), ("audit", "list", "--history"), ("applies", "list"),
    ("applies", "show", "ap-00000000000000000000000000"), ("history",), ("lock", "list"),
    ("plan",), ("plan", "--format", "json"), ("show", PLAN),
]
IDS = [" ".join(r) for r in READERS]


def listing(root: Path) -> dict[str, str]:
    """Every file and folder under `root` (hidden ones too), with a digest of each file."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return out


def invoke(root: Path, *args: str, store: str | None = None) -> Result:
    env = {"SETRIGHT_ACTOR": "tester@example.com", "SETRIGHT_STORE": store}
    with chdir(root):
        return CliRunner().invoke(cli, ["--config", str(root / "setright.yaml"), *args],
                                  obj={"clock": FixedClock(T0)}, env=env)


def write_config(root: Path, **extra: object) -> None:
    config = {"version": 1, "store": {"url": "sqlite:///.setright/audit.db"},
              "targets": {"app": {"url": "sqlite:///data/app.db", "changes": "changes/app"}},
              "policy": {"require_committed": False}, **extra}
    root.mkdir(parents=True, exist_ok=True)
    (root / "setright.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (root / "changes" / "app").mkdir(parents=True, exist_ok=True)


def saved_plan(tmp_path: Path, into: Path) -> None:
    """A valid saved plan (made in another project) for `show`."""
    other = tmp_path / "elsewhere"
    write_config(other)
    Store.open(other / ".setright" / "audit.db").close()
    made = invoke(other, "plan", "-o", str(into / PLAN))
    assert made.exit_code == 0, made.output


@pytest.fixture(autouse=True)
def _no_store_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SETRIGHT_STORE", raising=False)


# -- a missing store -------------------------------------------------------------------


@pytest.mark.parametrize("how", ["never created", "mistyped SETRIGHT_STORE"])
@pytest.mark.parametrize("args", READERS, ids=IDS)
def test_every_reader_refuses_a_missing_store_and_creates_nothing(
        tmp_path: Path, args: tuple[str, ...], how: str) -> None:
    root = tmp_path / "p"
    write_config(root)
    saved_plan(tmp_path, root)
    store, shown = None, "sqlite:///.setright/audit.db"
    if how == "mistyped SETRIGHT_STORE":
        Store.open(root / ".setright" / "audit.db").close()  # the real one exists
        store = shown = MISTYPED
    before = listing(root)
    result = invoke(root, *args, store=store)
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[0] == f"Error: no audit store at {shown}"
    # it sends the operator back to where the URL was given
    origin = "SETRIGHT_STORE" if store else "store.url at setright.yaml:3:8,"
    assert f"read commands never create one: check {origin}" in result.stderr.splitlines()[1]
    assert result.stdout == ""
    assert listing(root) == before  # no file, no folder, no -wal/-shm
    if how == "never created":
        assert not (root / ".setright").exists()


def test_a_missing_store_named_by_store_names_the_option(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write_config(root)
    with chdir(root):
        result = CliRunner().invoke(cli, ["--store", MISTYPED, "issue", "list"],
                                    env={"SETRIGHT_STORE": "sqlite:///also-missing.db"})
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        f"Error: no audit store at {MISTYPED}",
        "  read commands never create one: check --store,"]


@pytest.mark.parametrize("args", [("issue", "list"), ("run",)], ids=["reader", "writer"])
def test_an_unreachable_store_says_where_its_url_was_written(
        tmp_path: Path, args: tuple[str, ...]) -> None:
    """Nothing listens on port 1: the error names the server and sends the operator back to
    the line of setright.yaml that gave the URL."""
    root = tmp_path / "p"
    write_config(root, store={"url": "postgresql://nobody@127.0.0.1:1/none"})
    result = invoke(root, *args)
    assert result.exit_code == 1, result.output
    first, second = result.stderr.splitlines()[:2]
    assert first.startswith("Error: cannot ") and "127.0.0.1:1" in first
    assert second == "  check store.url at setright.yaml:3:8"
    assert "Traceback" not in result.stderr


def test_validate_needs_no_store_and_creates_none(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write_config(root)
    before = listing(root)
    result = invoke(root, "validate")
    assert result.exit_code == 0, result.output
    assert "no audit store at .setright/audit.db; ledger checks skipped" in result.output
    assert listing(root) == before


def test_the_issue_list_ci_gate_fails_on_a_mistyped_store(tmp_path: Path) -> None:
    """The issue's reproduction, as a real process: it used to print "No issues found", exit 0
    and create `audt.db` and its folder."""
    root = tmp_path / "p"
    write_config(root)
    before = listing(root)
    env = {**os.environ, "SETRIGHT_STORE": MISTYPED, "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "setright", "issue", "list", "--exit-code"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines()[0] == f"Error: no audit store at {MISTYPED}"
    assert "Traceback" not in done.stderr
    assert listing(root) == before


# -- init, then readers ------------------------------------------------------------------


WORK_AT_ONCE = [r for r in READERS if r[:2] not in (("applies", "show"), ("issue", "get"))]


def test_init_creates_the_store_so_readers_work_at_once(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "new"
    root.mkdir()
    monkeypatch.chdir(root)
    made = CliRunner().invoke(cli, ["init"])
    assert made.exit_code == 0, made.output
    assert f"Created {root.resolve() / '.setright' / 'audit.db'}" in made.output
    saved_plan(tmp_path, root)
    before = listing(root)
    for args in WORK_AT_ONCE:
        result = CliRunner().invoke(cli, list(args), obj={"clock": FixedClock(T0)})
        assert result.exit_code == 0, (args, result.output)
    got = CliRunner().invoke(cli, ["issue", "get"])
    assert (got.exit_code, got.output) == (0, "No issues found.\n")
    after = listing(root)
    # SQLite's own WAL files may appear next to the store; nothing else changes.
    assert {k: v for k, v in after.items() if not k.endswith(("-wal", "-shm"))} == before


# -- a Flamingock table nobody has fixed yet ----------------------------------------------


FLAMINGOCK = {"url": "sqlite:///flamingock.db", "audit_table": "flamingockAuditLog"}
FLAMINGOCK_READERS = [r for r in READERS if r[:2] != ("applies", "show")
                      and r != ("issue", "get", "-c", "some-change")]


def flamingock_project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    write_config(root, store=FLAMINGOCK)
    make_flamingock_db(root / "flamingock.db")
    saved_plan(tmp_path, root)
    return root


@pytest.mark.parametrize("args", FLAMINGOCK_READERS,
                         ids=[" ".join(r) for r in FLAMINGOCK_READERS])
def test_readers_on_a_flamingock_only_file_leave_it_byte_identical(
        tmp_path: Path, args: tuple[str, ...]) -> None:
    root = flamingock_project(tmp_path)
    before = listing(root)
    result = invoke(root, *args)
    expected = 3 if args == ("issue", "list", "--exit-code") else 0
    assert result.exit_code == expected, result.output
    assert listing(root) == before


def test_issue_list_on_a_flamingock_only_file(tmp_path: Path) -> None:
    root = flamingock_project(tmp_path)
    data = json.loads(invoke(root, "issue", "list", "--json").stdout)
    assert [i["change_id"] for i in data["issues"]] == [
        "user-data-sync-v2", "cache-warming-q4", "payment-processing"]


def test_a_plan_made_before_the_store_has_a_lineage(tmp_path: Path) -> None:
    """`lineage: null`; apply accepts it only while the store has none, then stamps one."""
    root = flamingock_project(tmp_path)
    resolution_file(FakeProject(root), "fix.yaml", resolutions=[
        {"change": "cache-warming-q4", "resolution": "ROLLED_BACK"}])
    made = invoke(root, "plan", "-o", "first.json")
    assert made.exit_code == 0, made.output
    first = json.loads((root / "first.json").read_text())
    assert first["store"]["lineage"] is None
    shutil.copy(root / "first.json", root / "second.json")
    before = (root / "flamingock.db").read_bytes()
    applied = invoke(root, "apply", "first.json")
    assert applied.exit_code == 0, applied.output
    assert "Apply complete! 1 resolved" in applied.output
    conn = sqlite3.connect(root / "flamingock.db")
    [(lineage,)] = conn.execute("SELECT value FROM setright_meta WHERE key = 'lineage'")
    conn.close()
    assert len(lineage) == 36 and (root / "flamingock.db").read_bytes() != before
    again = invoke(root, "apply", "second.json")
    assert again.exit_code == 1
    assert again.stderr.splitlines()[0] == "Error: this plan was made for another audit store"


class FakeProject:
    """What `resolution_file` needs of a project: its root."""

    def __init__(self, root: Path) -> None:
        self.root = root


# -- a read-only store -------------------------------------------------------------------




def failed_run_project(tmp_path: Path) -> Path:
    """`app` has a non-transactional change that failed (an issue); then another writer
    appended rows the change-state cache has not folded."""
    root = tmp_path / "p"
    write_config(root)
    (root / "changes" / "app" / "_0001__seed.yaml").write_text(yaml.safe_dump(
        {"id": "seed", "apply": "CREATE TABLE t (id INTEGER PRIMARY KEY);"}))
    (root / "changes" / "app" / "_0002__backfill.yaml").write_text(yaml.safe_dump(
        {"id": "backfill", "transactional": False,
         "apply": "INSERT INTO t VALUES (1);\nINSERT INTO nope VALUES (1);"}))
    ran = invoke(root, "run")
    assert ran.exit_code == 1, ran.output
    conn = sqlite3.connect(root / ".setright" / "audit.db")
    conn.execute("INSERT INTO setright_audit_log (change_id, state, created_at, tx_strategy,"
                 " target_system_id, error_trace) VALUES ('other', 'ROLLBACK_FAILED', ?,"
                 " 'NON_TX', 'app', 'boom')", (T0 + 10_000,))
    conn.commit()
    conn.close()
    saved_plan(tmp_path, root)
    return root


def test_readers_work_on_a_read_only_store_and_fold_in_memory(tmp_path: Path) -> None:
    root = failed_run_project(tmp_path)
    folder = root / ".setright"
    store_file = folder / "audit.db"
    assert sorted(p.name for p in folder.iterdir()) == ["audit.db"]  # closed cleanly
    before = listing(root)
    outputs = {}
    with read_only(folder, store_file):
        for args in READERS:
            result = invoke(root, *args)
            outputs[args] = result
            assert "Traceback" not in result.output and "internal error" not in result.output
    assert listing(root) == before  # no byte changed, no -wal/-shm, no cache refresh
    assert outputs[("issue", "list", "--exit-code")].exit_code == 3
    issues = json.loads(outputs[("issue", "list", "--json")].stdout)["issues"]
    assert [i["change_id"] for i in issues] == ["backfill", "other"]  # 'other' folded in memory
    for args in (("status", "--json"), ("audit", "list"), ("plan",), ("lock", "list")):
        assert outputs[args].exit_code == 0, outputs[args].output
    # The same answers as after a writer's fold.
    Store.open(store_file).close()
    writer = Store.open(store_file)
    assert writer.refresh() == 1
    writer.close()
    for args in (("issue", "list", "--json"), ("status", "--json"), ("audit", "list")):
        assert invoke(root, *args).stdout == outputs[args].stdout, args


def test_a_reader_is_not_blocked_by_a_writer_mid_transaction(tmp_path: Path) -> None:
    root = failed_run_project(tmp_path)
    blocker = sqlite3.connect(root / ".setright" / "audit.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    blocker.execute("INSERT INTO setright_audit_log (change_id, state, created_at)"
                    " VALUES ('late', 'FAILED', 1)")
    try:
        listed = invoke(root, "audit", "list", "--json")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert listed.exit_code == 0, listed.output
    assert "late" not in listed.stdout  # it reads the last committed state
