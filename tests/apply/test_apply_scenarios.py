"""`setright apply`, `audit fix`, `redrive`, `history`: the whole loop with real runner executions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from planhelp import backfill_project, failed_apply_id, mark, resolution_file, state_and_ledger
from runhelp import Project, audit_states, normalise
from setright.store import Store
from setright.store.locks import Locker
from setright.timeutil import FixedClock
from storehelp import T0




@pytest.fixture
def project(tmp_path: Path, clock: FixedClock) -> Project:
    return backfill_project(tmp_path / "proj", clock)


def errors(text: str) -> str:
    """stderr without the 'not in a git work tree' warning (these projects are not in git)."""
    return "\n".join(ln for ln in normalise(text).splitlines() if not ln.startswith("Warning:"))


def store_of(project: Project, clock: FixedClock) -> Store:
    return project.open_store(clock)


def run(project: Project, clock: FixedClock):  # type: ignore[no-untyped-def]
    store = store_of(project, clock)
    try:
        return project.run(store)[0]
    finally:
        store.close()


def the_apply_id(project: Project, clock: FixedClock) -> str:
    store = store_of(project, clock)
    try:
        return failed_apply_id(store)
    finally:
        store.close()


def saved_plan(project: Project, clock: FixedClock) -> Path:
    out = project.root / "plan.json"
    result = project.cli("plan", "-o", str(out), clock=clock)
    assert result.exit_code == 0, result.output
    return out


def mark_provenance(project: Project, clock: FixedClock) -> tuple[dict, list[dict]]:
    """The `setright` metadata of the one APPLIED mark, and of every event a file wrote."""
    store = store_of(project, clock)
    try:
        [meta] = [json.loads(m)["setright"] for (m,) in store.conn.execute(
            "SELECT metadata FROM setright_audit_log WHERE state = 'MANUAL_MARKED_AS_APPLIED'")]
        events = [json.loads(m or "{}") for (m,) in store.conn.execute(
            "SELECT metadata FROM setright_events WHERE source = 'file'")]
    finally:
        store.close()
    return meta, events


def test_the_file_s_author_is_recorded_with_what_it_wrote(project, clock) -> None:
    assert run(project, clock).status == "blocked"
    resolution_file(project, "2026-11-22-backfill.yaml", author="jane@example.com",
                    resolutions=[{"change": "backfill", "resolution": "APPLIED"}])
    result = project.cli("apply", "--auto-approve", clock=clock)
    assert result.exit_code == 0, result.output
    meta, events = mark_provenance(project, clock)
    assert meta["author"] == "jane@example.com"
    assert meta["actor"] == "tester@example.com"   # who applied it: still the actor
    assert events and all(e.get("author") == "jane@example.com" for e in events)


def test_resolve_applied_unblocks_the_target_and_run_skips_it(project, clock, snapshot) -> None:
    assert run(project, clock).status == "blocked"
    resolution_file(project, "2026-11-22-backfill.yaml", ticket="OPS-7",
                    reason="finished operations 2-3 by hand",
                    resolutions=[{"change": "backfill", "resolution": "APPLIED",
                                  "expect": "FAILED", "target": "app"}])
    result = project.cli("apply", "--auto-approve", clock=clock)
    assert result.exit_code == 0, result.output
    assert normalise(result.stdout) == snapshot
    assert "not in a git work tree" in result.stderr
    after = run(project, clock)
    assert after.status == "completed"
    store = store_of(project, clock)
    assert audit_states(store, "backfill") == ["STARTED", "FAILED", "MANUAL_MARKED_AS_APPLIED"]
    assert audit_states(store, "add-index") == ["STARTED", "APPLIED"]
    [meta] = [json.loads(m) for (m,) in store.conn.execute(
        "SELECT metadata FROM setright_audit_log WHERE state = 'MANUAL_MARKED_AS_APPLIED'")]
    assert meta["setright"] == {
        "actor": "tester@example.com", "source": "file", "reason": "finished operations 2-3 by hand",
        "ticket": "OPS-7", "resolution": "resolutions/2026-11-22-backfill.yaml#resolution:backfill",
        "plan_id": meta["setright"]["plan_id"]}
    store.close()
    history = project.cli("history", clock=clock)
    assert normalise(history.stdout) == snapshot


def test_resolve_rolled_back_makes_the_next_run_execute_it_again(project, clock) -> None:
    project.query("CREATE TABLE fix_me (id INTEGER)")
    resolution_file(project, "r.yaml", resolutions=[
        {"change": "backfill", "resolution": "ROLLED_BACK", "expect": "FAILED"}])
    assert project.cli("apply", "--auto-approve", clock=clock).exit_code == 0
    assert run(project, clock).status == "completed"
    store = store_of(project, clock)
    assert audit_states(store, "backfill") == [
        "STARTED", "FAILED", "MANUAL_MARKED_AS_ROLLED_BACK", "STARTED", "APPLIED"]
    store.close()
    assert project.query("SELECT count(*) FROM fix_me") == [(1,)]


def test_redrive_then_run_completes_the_same_apply(project, clock, snapshot) -> None:
    apply_id = the_apply_id(project, clock)
    project.query("CREATE TABLE fix_me (id INTEGER)")
    resolution_file(project, "r.yaml", reason="created fix_me",
                    redrives=[{"apply": apply_id, "note": "table exists now"}])
    result = project.cli("apply", "--auto-approve", clock=clock)
    assert result.exit_code == 0
    assert normalise(result.stdout) == snapshot
    store = store_of(project, clock)
    row = store.conn.execute("SELECT state, attempt, error, completed_at FROM setright_applies"
                             " WHERE id = ?", (apply_id,)).fetchone()
    assert row == ("failed_retryable", 0, None, None)
    assert store.conn.execute("SELECT position, state FROM setright_tasks WHERE apply_id = ?"
                              " ORDER BY position", (apply_id,)).fetchall() == [
        (1, "completed"), (2, "failed_retryable"), (3, "pending")]
    store.close()
    outcome = run(project, clock)
    assert (outcome.apply_id, outcome.status) == (apply_id, "completed")
    # operation 1 of backfill ran once, in the first attempt: resumed at operation 2
    assert project.query("SELECT seq, count(*) FROM setright_markers WHERE change_id = 'backfill'"
                         " GROUP BY seq") == [(1, 1), (2, 1), (3, 1)]
    assert project.query("SELECT v FROM t ORDER BY id") == [(2,), (2,)]


def test_a_saved_plan_applied_twice_writes_once(project, clock, snapshot) -> None:
    resolution_file(project, "r.yaml", resolutions=[
        {"change": "backfill", "resolution": "APPLIED", "expect": "FAILED"}])
    plan = saved_plan(project, clock)
    first = project.cli("apply", str(plan), clock=clock)
    assert first.exit_code == 0
    before = state_and_ledger(project, clock)
    second = project.cli("apply", str(plan), clock=clock)
    assert second.exit_code == 1
    assert errors(second.stderr) == snapshot
    assert state_and_ledger(project, clock) == before


def _audit_fix(project: Project, clock: FixedClock) -> None:
    mark(project, clock, "backfill", "ROLLED_BACK")


def _edit_change_file(project: Project, clock: FixedClock) -> None:
    project.change("_0003__add-index", apply="CREATE INDEX t_v ON t (v, id);")


def _runner_creates_an_apply(project: Project, clock: FixedClock) -> None:
    mark(project, clock, "backfill", "APPLIED")
    assert run(project, clock).status == "completed"


def _another_apply_becomes_active(project: Project, clock: FixedClock) -> None:
    mark(project, clock, "backfill", "APPLIED")
    project.change("_0003__add-index", transactional=False,
                   apply="CREATE INDEX t_v ON t (v);\nCREATE INDEX t_v2 ON t (v);")
    project.start_at(T0 + 3_600_000)  # the crashed runner runs after the fixed clock, any day
    proc = project.spawn("run", fault="crash-after:add-index:1")
    proc.communicate(timeout=60)
    # an operator frees the dead runner's lock; its apply row stays running
    store = store_of(project, clock)
    [lock] = Locker(store).list()
    store.close()
    assert project.cli("lock", "release", lock.lock_id, "--force", clock=clock).exit_code == 0


def _runner_retries_the_apply(project: Project, clock: FixedClock) -> None:
    apply_id = the_apply_id(project, clock)
    other = resolution_file(project, "other.yaml", redrives=[{"apply": apply_id}])
    out = project.root / "other-plan.json"
    assert project.cli("plan", str(other), "-o", str(out), clock=clock).exit_code == 0
    assert project.cli("apply", str(out), clock=clock).exit_code == 0
    run(project, clock)


@pytest.mark.parametrize("move", [_audit_fix, _edit_change_file, _runner_creates_an_apply,
                                  _another_apply_becomes_active, _runner_retries_the_apply],
                         ids=lambda f: f.__name__.strip("_"))
def test_a_move_between_plan_and_apply_is_refused(project, clock, move, snapshot) -> None:
    apply_id = the_apply_id(project, clock)
    resolution_file(project, "r.yaml", reason="fixed", redrives=[{"apply": apply_id}])
    plan = saved_plan(project, clock)
    (project.root / "resolutions" / "r.yaml").rename(project.root / "r.yaml.keep")
    move(project, clock)
    (project.root / "r.yaml.keep").rename(project.root / "resolutions" / "r.yaml")
    before = state_and_ledger(project, clock)
    result = project.cli("apply", str(plan), clock=clock)
    assert result.exit_code == 1
    lines = errors(result.stderr).splitlines()
    assert lines[0] == "Error: Saved plan is stale"
    assert lines[-1] == "  nothing was written; make a new plan"
    assert "\n".join(lines) == snapshot
    assert state_and_ledger(project, clock) == before


def test_a_held_lock_refuses_then_lock_timeout_waits(project, clock, snapshot) -> None:
    resolution_file(project, "r.yaml", resolutions=[
        {"change": "backfill", "resolution": "APPLIED"}])
    plan = saved_plan(project, clock)
    store = store_of(project, clock)
    lock, _ = Locker(store, owner="runner@build-7:4242").acquire("target:app", "run")
    before = state_and_ledger(project, clock)
    refused = project.cli("apply", str(plan), clock=clock)
    assert refused.exit_code == 1
    assert errors(refused.stderr.replace(lock.lock_id, "<lock-id>")) == snapshot
    assert state_and_ledger(project, clock) == before
    releaser = threading.Timer(0.5, lambda: Locker(store).release(lock.lock_id))
    releaser.start()
    waited = project.cli("apply", str(plan), "--lock-timeout", "20s", clock=clock)
    releaser.join()
    store.close()
    assert waited.exit_code == 0, waited.output
    assert "Apply complete! 1 resolved, 0 redriven, 0 satisfied." in waited.stdout


def test_forced_redrive_takes_the_lock_over_and_claims_the_target(project, clock) -> None:
    apply_id = the_apply_id(project, clock)
    store = store_of(project, clock)
    Locker(store, owner="stuck@host-9:77").acquire("target:app", "run")
    store.close()
    [fence_before] = project.query("SELECT lock_id FROM setright_runner_fence")
    resolution_file(project, "r.yaml", redrives=[{"apply": apply_id, "force": True}])
    result = project.cli("apply", "--auto-approve", clock=clock)
    assert result.exit_code == 0, result.output
    store = store_of(project, clock)
    [(meta,)] = store.conn.execute(
        "SELECT metadata FROM setright_events WHERE kind = 'apply' AND apply_id = ?"
        " AND new_state = 'failed_retryable'", (apply_id,))
    assert json.loads(meta)["took_lock_from"] == "stuck@host-9:77"
    assert Locker(store).list() == []   # released after apply
    store.close()
    # the fence was claimed anew by apply's lock: whoever held the lock can no longer commit
    [fence_after] = project.query("SELECT lock_id FROM setright_runner_fence")
    assert fence_after != fence_before


def git(root: Path, *args: str, email: str = "dev@example.com") -> str:
    return subprocess.run(["git", "-c", f"user.email={email}", "-c", "user.name=Dev",
                           "-c", "commit.gpgsign=false", *args],
                          cwd=root, check=True, capture_output=True, text=True).stdout


def added_by_jane_reworded_by_bob(project: Project, clock: FixedClock,
                                  named: str | None) -> None:
    """backfill failed; a.yaml resolving it, added by jane, then reworded by bob (git)."""
    git(project.root, "init", "-q")
    assert run(project, clock).status == "blocked"
    resolution_file(project, "a.yaml", author=named, resolutions=[
        {"change": "backfill", "resolution": "APPLIED"}])
    git(project.root, "add", "resolutions/a.yaml")
    git(project.root, "commit", "-q", "-m", "resolve", email="jane@example.com")
    resolution_file(project, "a.yaml", author=named, reason="reworded after review",
                    resolutions=[{"change": "backfill", "resolution": "APPLIED"}])
    git(project.root, "commit", "-q", "-am", "reword", email="bob@example.com")


@pytest.mark.parametrize(("named", "recorded"), [(None, "jane@example.com"),
                                                 ("ops@example.com", "ops@example.com")])
def test_a_file_s_default_author_is_who_committed_it_first(project, clock, named,
                                                           recorded) -> None:
    """Without an `author`, the file's is who added it: not who edited it last, nor the
    actor applying it. One it names itself wins."""
    added_by_jane_reworded_by_bob(project, clock, named)
    assert project.cli("apply", "--auto-approve", clock=clock).exit_code == 0
    meta, events = mark_provenance(project, clock)
    assert meta["author"] == recorded
    assert meta["actor"] == "tester@example.com"
    assert events and all(e.get("author") == recorded for e in events)


def test_a_git_author_no_file_could_name_is_not_recorded(project, clock) -> None:
    """git takes almost any email; one with a bidirectional override would reach the audit
    log's readers."""
    git(project.root, "init", "-q")
    assert run(project, clock).status == "blocked"
    resolution_file(project, "a.yaml", resolutions=[
        {"change": "backfill", "resolution": "APPLIED"}])
    git(project.root, "add", "resolutions/a.yaml")
    git(project.root, "commit", "-q", "-m", "resolve", email="jane\u202e@example.com")
    result = project.cli("apply", "--auto-approve", clock=clock)
    assert result.exit_code == 0, result.output
    assert "Warning: resolutions/a.yaml: the author of the commit that added it is not " \
           "recorded: " in result.stderr
    assert the_file_s_author(project, clock) is None


def test_a_stale_plan_with_a_forced_redrive_never_takes_a_lock_over(project, clock) -> None:
    """Re-applying an applied plan while a runner holds the target: refused before any
    target lock is taken, so the runner keeps its lock and the target its fence."""
    apply_id = the_apply_id(project, clock)
    resolution_file(project, "r.yaml", redrives=[{"apply": apply_id, "force": True}])
    plan = saved_plan(project, clock)
    assert project.cli("apply", str(plan), clock=clock).exit_code == 0
    store = store_of(project, clock)
    lock, _ = Locker(store, owner="runner@build-7:4242").acquire("target:app", "run")
    store.close()
    fence_before = project.query("SELECT lock_id, owner FROM setright_runner_fence")
    before = state_and_ledger(project, clock)
    again = project.cli("apply", str(plan), clock=clock)
    assert again.exit_code == 1
    assert "nothing was written" in again.stderr
    store = store_of(project, clock)
    assert [(x.lock_id, x.owner) for x in Locker(store).list()] == [
        (lock.lock_id, "runner@build-7:4242")]
    store.close()
    assert project.query("SELECT lock_id, owner FROM setright_runner_fence") == fence_before
    assert state_and_ledger(project, clock) == before


def test_uncommitted_files_are_refused_inside_git(project, clock, snapshot) -> None:
    git(project.root, "init", "-q")
    resolution_file(project, "r.yaml", resolutions=[
        {"change": "backfill", "resolution": "APPLIED"}])
    before = state_and_ledger(project, clock)
    refused = project.cli("apply", "--auto-approve", clock=clock)
    assert refused.exit_code == 1
    assert refused.stderr == snapshot
    assert state_and_ledger(project, clock) == before
    git(project.root, "add", "resolutions/r.yaml")
    git(project.root, "commit", "-q", "-m", "resolve backfill")
    sha = git(project.root, "rev-parse", "HEAD").strip()
    assert project.cli("apply", "--auto-approve", clock=clock).exit_code == 0
    store = store_of(project, clock)
    assert store.conn.execute("SELECT commit_sha FROM setright_ledger").fetchone() == (sha,)
    store.close()


@pytest.fixture
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user or system git config (signing, hooks, templates) and no inherited repository."""
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)


def the_file_s_author(project: Project, clock: FixedClock) -> str | None:
    author: str | None = mark_provenance(project, clock)[0].get("author")
    return author


@pytest.mark.usefixtures("isolated_git")
@pytest.mark.parametrize("flag", ["--assume-unchanged", "--skip-worktree"])
def test_an_edit_hidden_from_git_status_is_refused(project, clock, flag) -> None:
    """`git status` does not look at such a file: its commit would be recorded for bytes it
    does not hold."""
    git(project.root, "init", "-q")
    resolution_file(project, "r.yaml", resolutions=[
        {"change": "backfill", "resolution": "APPLIED"}])
    git(project.root, "add", "resolutions/r.yaml")
    git(project.root, "commit", "-q", "-m", "resolve backfill")
    git(project.root, "update-index", flag, "resolutions/r.yaml")
    resolution_file(project, "r.yaml", reason="not what was committed", resolutions=[
        {"change": "backfill", "resolution": "APPLIED"}])
    assert git(project.root, "status", "--porcelain", "resolutions") == ""
    before = state_and_ledger(project, clock)
    refused = project.cli("apply", "--auto-approve", clock=clock)
    assert refused.exit_code == 1
    assert "resolution files must be committed and clean before apply" in refused.stderr
    assert "resolutions/r.yaml: modified" in refused.stderr
    assert state_and_ledger(project, clock) == before


@pytest.mark.usefixtures("isolated_git")
@pytest.mark.parametrize("named", [None, "ops@example.com"])
def test_a_shallow_clone_records_no_git_author_and_says_why(project, clock, tmp_path: Path,
                                                            named: str | None) -> None:
    """A `--depth 1` checkout (CI's default) shows its tip adding every file: the tip's
    author is not who added the file. A file that names its author needs no git, and
    no warning."""
    added_by_jane_reworded_by_bob(project, clock, named)
    tip = git(project.root, "rev-parse", "HEAD").strip()
    # the project becomes a work tree of a shallow clone of itself, as a CI checkout is
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{project.root}", "ci")
    shutil.rmtree(project.root / ".git")
    shutil.move(tmp_path / "ci" / ".git", project.root / ".git")
    assert git(project.root, "rev-parse", "--is-shallow-repository").strip() == "true"
    result = project.cli("apply", "--auto-approve", clock=clock)
    assert result.exit_code == 0, result.output
    warnings = [ln for ln in result.stderr.splitlines() if "shallow" in ln]
    if named:
        assert warnings == []
        assert the_file_s_author(project, clock) == named
    else:
        assert len(warnings) == 1 and warnings[0].startswith("Warning: ")
        assert "fetch-depth: 0" in warnings[0] and "git fetch --unshallow" in warnings[0]
        assert the_file_s_author(project, clock) is None   # not bob, who only reworded it
    store = store_of(project, clock)
    try:
        assert store.conn.execute("SELECT commit_sha FROM setright_ledger").fetchone() == (tip,)
    finally:
        store.close()


def test_allow_dirty_applies_with_a_warning(project, clock) -> None:
    git(project.root, "init", "-q")
    resolution_file(project, "r.yaml", resolutions=[
        {"change": "backfill", "resolution": "APPLIED"}])
    result = project.cli("apply", "--auto-approve", "--allow-dirty", clock=clock)
    assert result.exit_code == 0
    assert "Warning: applying uncommitted resolution files: resolutions/r.yaml: untracked" in \
        result.stderr


def test_no_terminal_and_no_auto_approve_refuses(project, clock) -> None:
    resolution_file(project, "r.yaml", resolutions=[
        {"change": "backfill", "resolution": "APPLIED"}])
    before = state_and_ledger(project, clock)
    result = project.cli("apply", clock=clock)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: no terminal to confirm on; pass --auto-approve to proceed without asking")
    assert state_and_ledger(project, clock) == before


def test_a_plan_with_conflicts_is_not_applied(project, clock, snapshot) -> None:
    resolution_file(project, "r.yaml", resolutions=[
        {"change": "backfill", "resolution": "APPLIED"},
        {"change": "nope", "resolution": "APPLIED"}])
    before = state_and_ledger(project, clock)
    result = project.cli("apply", "--auto-approve", clock=clock)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-3:] == snapshot
    assert state_and_ledger(project, clock) == before


def test_a_tampered_plan_file_is_refused(project, clock) -> None:
    resolution_file(project, "r.yaml", resolutions=[
        {"change": "backfill", "resolution": "APPLIED"}])
    plan = saved_plan(project, clock)
    data = json.loads(plan.read_text())
    data["actions"][0]["after"] = "MANUAL_MARKED_AS_ROLLED_BACK"
    plan.write_text(json.dumps(data))
    result = project.cli("apply", str(plan), clock=clock)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"Error: plan file {plan} was modified after it was saved")
    plan.write_text("{not json")
    assert project.cli("apply", str(plan), clock=clock).stderr.startswith(
        f"Error: invalid plan file: {plan}:1:2: not valid JSON")


def test_audit_fix_writes_like_a_plan_with_source_cli(project, clock, snapshot) -> None:
    result = project.cli("audit", "fix", "-c", "backfill", "-r", "APPLIED", "--reason",
                         "done by hand", "--ticket", "OPS-9", "--yes", clock=clock)
    assert result.exit_code == 0, result.output
    assert normalise(result.stdout) == snapshot
    store = store_of(project, clock)
    [(meta,)] = store.conn.execute(
        "SELECT metadata FROM setright_audit_log WHERE state = 'MANUAL_MARKED_AS_APPLIED'")
    assert json.loads(meta)["setright"]["source"] == "cli"
    assert store.conn.execute("SELECT source, kind FROM setright_events WHERE kind = 'mark'"
                              ).fetchall() == [("cli", "mark")]
    assert store.conn.execute("SELECT count(*) FROM setright_ledger").fetchone() == (0,)
    store.close()


@pytest.mark.parametrize("args", [
    ["audit", "fix", "-c", "seed", "-r", "ROLLED_BACK", "--reason", "x", "--yes"],
    ["audit", "fix", "-c", "it's-ünï", "-r", "APPLIED", "--reason", "x", "--yes"],
    ["redrive", "ap-NOPE", "--reason", "x", "--yes"],
], ids=["not-an-issue", "unknown-change", "unknown-apply"])
def test_imperative_refusals_match_the_plan_conflicts(project, clock, args, snapshot) -> None:
    before = state_and_ledger(project, clock)
    result = project.cli(*args, clock=clock)
    assert result.exit_code == 1
    assert result.stderr == snapshot
    assert state_and_ledger(project, clock) == before


def test_redrive_command(project, clock, snapshot) -> None:
    apply_id = the_apply_id(project, clock)
    refused = project.cli("redrive", apply_id, "--reason", "fixed", clock=clock)
    assert refused.exit_code == 1 and "no terminal to confirm on; pass --yes" in refused.stderr
    result = project.cli("redrive", apply_id, "--reason", "fixed", "--yes", clock=clock)
    assert result.exit_code == 0
    assert normalise(result.stdout) == snapshot
    again = project.cli("redrive", apply_id, "--reason", "fixed", "--yes", clock=clock)
    assert (again.exit_code, normalise(again.stdout)) == (
        0, "Nothing to do: apply ap-<1> was redriven already; it is failed_retryable.\n")
