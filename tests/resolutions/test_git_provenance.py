"""Git provenance through the real `git` command, in temporary repositories."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from setright.resolutions import git
from setright.resolutions.git import (
    CommitInfo,
    FileStatus,
    GitError,
    adding_commit,
    adding_commits,
    file_status,
    file_statuses,
    in_work_tree,
    last_commit,
    last_commits,
    shallow_work_trees,
    work_tree_root,
)

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user or system git config (signing, hooks, templates) and no inherited repository."""
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # Running inside a git hook must not point the helpers at the outer repository.
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "not-this-repo"))
    monkeypatch.setenv("GIT_WORK_TREE", str(tmp_path))


def run_git(repo: Path, *args: str, email: str = "jane@example.com") -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE")}
    done = subprocess.run(
        ["git", "-c", f"user.email={email}", "-c", "user.name=Test User",
         "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=repo, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "resolutions").mkdir(parents=True)
    run_git(root, "init", "-q")
    return root


def commit(repo: Path, message: str, *paths: str, email: str = "jane@example.com") -> str:
    run_git(repo, "add", "--", *paths)
    run_git(repo, "commit", "-q", "-m", message, email=email)
    return run_git(repo, "rev-parse", "HEAD")


def test_work_tree_detection(repo: Path, tmp_path: Path) -> None:
    inside = repo / "resolutions" / "a.yaml"
    inside.write_text("x")
    assert in_work_tree(inside) and in_work_tree(repo / "resolutions")
    assert work_tree_root(inside) == repo.resolve()
    outside = tmp_path / "plain" / "a.yaml"
    outside.parent.mkdir()
    outside.write_text("x")
    assert not in_work_tree(outside)
    assert not in_work_tree(tmp_path / "no" / "such" / "folder" / "a.yaml")


def test_status_through_a_file_s_life(repo: Path) -> None:
    path = repo / "resolutions" / "a.yaml"
    path.write_text("version: 1\n")
    assert file_status(path) is FileStatus.UNTRACKED
    assert last_commit(path) is None  # also: no commit at all yet
    run_git(repo, "add", "resolutions/a.yaml")
    assert file_status(path) is FileStatus.MODIFIED  # staged is not committed
    sha = commit(repo, "add a", "resolutions/a.yaml")
    assert file_status(path) is FileStatus.COMMITTED
    assert last_commit(path) == CommitInfo(sha, "jane@example.com")
    path.write_text("version: 1\nreason: x\n")
    assert file_status(path) is FileStatus.MODIFIED
    assert last_commit(path) == (sha, "jane@example.com")  # a plain tuple too
    later = commit(repo, "edit a", "resolutions/a.yaml", email="bob@example.com")
    assert file_status(path) is FileStatus.COMMITTED
    assert last_commit(path) == CommitInfo(later, "bob@example.com")
    assert adding_commit(path) == CommitInfo(sha, "jane@example.com")
    path.unlink()
    assert file_status(path) is FileStatus.MODIFIED  # deleted but tracked
    commit(repo, "drop a", "resolutions/a.yaml")
    path.write_text("version: 1\n")
    again = commit(repo, "a again", "resolutions/a.yaml", email="kim@example.com")
    assert adding_commit(path) == CommitInfo(again, "kim@example.com")  # its latest addition


def test_ignored_and_outside_files(repo: Path, tmp_path: Path) -> None:
    (repo / ".gitignore").write_text("*.local.yaml\n")
    ignored = repo / "resolutions" / "x.local.yaml"
    ignored.write_text("x")
    assert file_status(ignored) is FileStatus.UNTRACKED
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("x")
    assert file_status(outside) is FileStatus.NOT_IN_GIT
    assert last_commit(outside) is None and adding_commit(outside) is None


def test_odd_file_names_are_taken_literally(repo: Path) -> None:
    names = ["it's \"q\" ✓.yaml", "with space.yaml", "[ab].yaml", "a.yaml", "*.yaml"]
    for name in names[:4]:
        (repo / "resolutions" / name).write_text(name)
    sha = commit(repo, "odd names", "resolutions")
    (repo / "resolutions" / "b.yaml").write_text("untracked")
    paths = [repo / "resolutions" / n for n in names]
    statuses = file_statuses(paths)
    # "[ab].yaml" and "*.yaml" would match other files as pathspec globs
    assert [statuses[p] for p in paths] == [FileStatus.COMMITTED] * 4 + [FileStatus.UNTRACKED]
    assert last_commits(paths) == {**{p: CommitInfo(sha, "jane@example.com") for p in paths[:4]},
                                   paths[4]: None}


def test_many_files_in_few_calls(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(450):
        (repo / "resolutions" / f"r{i:03}.yaml").write_text(str(i))
    first = commit(repo, "many", "resolutions")
    (repo / "resolutions" / "r007.yaml").write_text("edited")
    second = commit(repo, "one more", "resolutions/r007.yaml", email="bob@example.com")
    (repo / "resolutions" / "r100.yaml").write_text("dirty")
    calls: list[str] = []
    real = git._git

    def counting(args: list[str], cwd: Path, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args[0])
        return real(args, cwd, **kwargs)

    monkeypatch.setattr(git, "_git", counting)
    paths = sorted((repo / "resolutions").glob("*.yaml"))
    statuses = file_statuses(paths)
    assert calls.count("status") == 3  # chunks of 200 paths, not one call per file
    assert statuses[repo / "resolutions" / "r100.yaml"] is FileStatus.MODIFIED
    assert sum(s is FileStatus.COMMITTED for s in statuses.values()) == 449
    commits = last_commits(paths)
    assert commits[repo / "resolutions" / "r007.yaml"] == CommitInfo(second, "bob@example.com")
    assert commits[repo / "resolutions" / "r000.yaml"] == CommitInfo(first, "jane@example.com")
    assert calls.count("ls-tree") == calls.count("hash-object") == 3  # the check of the bytes
    calls.clear()
    added = adding_commits(paths)
    # one work tree (found, then asked whether it is shallow), three chunks
    assert calls == ["rev-parse", "rev-parse", "log", "log", "log"]
    assert set(added.values()) == {CommitInfo(first, "jane@example.com")}


@pytest.mark.parametrize("flag", ["--assume-unchanged", "--skip-worktree"])
def test_an_edit_git_status_is_told_to_ignore_is_still_modified(repo: Path, flag: str) -> None:
    """Both flags make `git status` skip the file: what apply would record as its commit
    would not hold what it applied."""
    names = ["a.yaml", "[ab].yaml", "*.yaml", '"quoted".yaml', "line\nbreak.yaml",
             "cr\r.yaml", "back\\slash.yaml", "é.yaml"]
    for name in [*names, "kept.yaml", "gone.yaml"]:
        (repo / "resolutions" / name).write_text(f"version: 1  # {name!r}\n")
    commit(repo, "add", "resolutions")
    run_git(repo, "update-index", flag, "--", *(f"resolutions/{n}" for n in
                                                 [*names, "kept.yaml", "gone.yaml"]))
    for name in names:
        (repo / "resolutions" / name).write_text("version: 1\nreason: edited unseen\n")
    (repo / "resolutions" / "gone.yaml").unlink()
    (repo / "resolutions" / "b.yaml").write_text("untracked; `[ab].yaml` must not match it")
    assert run_git(repo, "status", "--porcelain", "--untracked-files=no") == ""  # fooled
    paths = [repo / "resolutions" / n for n in [*names, "kept.yaml", "gone.yaml"]]
    statuses = file_statuses(paths)
    assert {p.name: statuses[p] for p in paths} == {
        **{n: FileStatus.MODIFIED for n in names}, "kept.yaml": FileStatus.COMMITTED,
        "gone.yaml": FileStatus.MODIFIED}


def test_odd_names_that_are_clean_stay_committed(repo: Path) -> None:
    """The names hash-object's stdin would misread (a quote first, a line break, a carriage
    return last) are still checked, not refused."""
    names = ['"quoted".yaml', 'resolutions/"q".yaml', "resolutions/line\nbreak.yaml",
             "resolutions/cr.yaml\r", "resolutions/tab\t.yaml", "resolutions/a.yaml"]
    for name in names:
        (repo / name).write_text(name)
    (repo / "quoted.yaml").write_text("what '\"quoted\".yaml' is not")
    (repo / "resolutions" / "cr.yaml").write_text("what 'cr.yaml\\r' is not")
    commit(repo, "odd names", ".")
    paths = [repo / n for n in names]
    assert file_statuses(paths) == {p: FileStatus.COMMITTED for p in paths}


def test_a_shallow_clone_tells_no_adding_commit(repo: Path, tmp_path: Path) -> None:
    """In a `--depth 1` clone git log shows the tip adding every file, whoever added it."""
    path = repo / "resolutions" / "a.yaml"
    path.write_text("version: 1\n")
    first = commit(repo, "add a", "resolutions/a.yaml")
    path.write_text("version: 1\nreason: reworded\n")
    tip = commit(repo, "edit a", "resolutions/a.yaml", email="bob@example.com")
    ci = tmp_path / "ci"
    run_git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(ci))
    cloned = ci / "resolutions" / "a.yaml"
    assert file_status(cloned) is FileStatus.COMMITTED
    assert last_commit(cloned) == CommitInfo(tip, "bob@example.com")
    assert adding_commits([cloned]) == {cloned: None}  # not bob, who only edited it
    assert shallow_work_trees([cloned, tmp_path / "outside.yaml"]) == {ci.resolve()}
    # the full history still answers
    assert shallow_work_trees([path]) == set()
    assert adding_commit(path) == CommitInfo(first, "jane@example.com")


def test_no_git_binary_means_not_in_git(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    path = repo / "resolutions" / "a.yaml"
    path.write_text("x")
    commit(repo, "add", "resolutions/a.yaml")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert not in_work_tree(path)
    assert file_status(path) is FileStatus.NOT_IN_GIT
    assert last_commit(path) is None


def test_a_hanging_git_is_an_error_not_a_silent_pass(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    fake = tmp_path / "slow-bin"
    fake.mkdir()
    # a child process that outlives a killed parent must not keep us waiting either
    (fake / "git").write_text(f"#!/bin/sh\n{shutil.which('sleep')} 5 &\n"
                              f"{shutil.which('sleep')} 5\n")
    (fake / "git").chmod(0o755)
    monkeypatch.setenv("PATH", str(fake))
    monkeypatch.setattr(git, "GIT_TIMEOUT_S", 0.2)
    started = time.monotonic()
    with pytest.raises(GitError, match="git did not answer within 0.2s"):
        file_status(repo / "resolutions" / "a.yaml")
    assert time.monotonic() - started < 3
