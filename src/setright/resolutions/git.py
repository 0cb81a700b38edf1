"""Git provenance of resolution files, through the `git` command (no Git library).

`setright apply` records the commit of each file it applies and the author of
the commit that added it (a file's default `author`) and, under
`policy.require_committed`, refuses files that are not committed and clean.
The answers come from the repository that holds the file (git runs in the
file's folder, with repository-locating variables such as GIT_DIR removed).
A missing `git` binary means "not in git", never an exception; a git that
hangs past the timeout is an error, because silently treating it as "not in
git" would turn a policy refusal into a mere warning.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from setright.errors import SetrightError

GIT_TIMEOUT_S = 10.0
#: paths per git invocation, to stay far below any command-line length limit
_CHUNK = 200
#: variables that would point git at another repository than the file's own
_REPO_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                   "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
                   "GIT_PREFIX")


class GitError(SetrightError):
    """git could not answer (timed out); provenance cannot be established."""


class FileStatus(StrEnum):
    COMMITTED = "committed"      # tracked and identical to HEAD, in the index and on disk
    MODIFIED = "modified"        # tracked or staged, but differs from HEAD (or deleted)
    UNTRACKED = "untracked"      # in a work tree but not tracked (ignored files included)
    NOT_IN_GIT = "not-in-git"    # outside any work tree, or no git installed


class CommitInfo(NamedTuple):
    sha: str
    author_email: str


def _git(args: list[str], cwd: Path,
         stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes] | None:
    """Run git (`stdin`: bytes fed to it); None when git is not installed (or `cwd` is not
    a folder)."""
    env = {k: v for k, v in os.environ.items() if k not in _REPO_VARIABLES}
    env["GIT_OPTIONAL_LOCKS"] = "0"  # `status` must not take index.lock from a concurrent git
    env["LC_ALL"] = "C"
    command = ["git", "--literal-pathspecs", "--no-pager", *args]
    try:
        # its own process group, so a timeout also ends whatever git started
        proc = subprocess.Popen(command, cwd=cwd, env=env,
                                stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=os.name == "posix")
    except OSError:
        return None
    try:
        out, err = proc.communicate(stdin, timeout=GIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            proc.kill()
        proc.communicate()
        raise GitError(f"git did not answer within {GIT_TIMEOUT_S:g}s in {cwd}",
                       [f"command: git {' '.join(args[:3])} …"]) from None
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def _folder(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    return path if path.is_dir() else path.parent


def work_tree_root(path: Path) -> Path | None:
    """The top folder of the work tree holding `path`, or None outside git."""
    folder = _folder(path)
    if not folder.is_dir():
        return None
    done = _git(["rev-parse", "--is-inside-work-tree", "--show-toplevel"], folder)
    if done is None or done.returncode != 0:
        return None
    lines = done.stdout.decode("utf-8", "surrogateescape").splitlines()
    if len(lines) < 2 or lines[0] != "true":
        return None
    return Path(lines[1])


def in_work_tree(path: Path) -> bool:
    return work_tree_root(path) is not None


def _grouped(paths: Iterable[Path]) -> dict[Path | None, list[tuple[Path, str]]]:
    """Paths grouped by work tree, each with its path relative to that tree's top."""
    roots: dict[Path, Path | None] = {}
    groups: dict[Path | None, list[tuple[Path, str]]] = {}
    for path in paths:
        folder = _folder(path)
        if folder not in roots:
            roots[folder] = work_tree_root(folder)
        root = roots[folder]
        if root is None:
            groups.setdefault(None, []).append((path, ""))
            continue
        absolute = Path(os.path.abspath(path))
        try:
            relative = absolute.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:  # a symlink leading out of the work tree
            groups.setdefault(None, []).append((path, ""))
            continue
        groups.setdefault(root, []).append((path, relative))
    return groups


def _chunks(items: list[tuple[Path, str]]) -> Iterable[list[tuple[Path, str]]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _z_fields(output: bytes) -> list[str]:
    return [f for f in output.decode("utf-8", "surrogateescape").split("\0") if f]


def file_statuses(paths: Iterable[Path]) -> dict[Path, FileStatus]:
    """Status of many files with a few git calls per work tree (2,000 files stay fast)."""
    result: dict[Path, FileStatus] = {}
    for root, items in _grouped(paths).items():
        if root is None:
            result.update({path: FileStatus.NOT_IN_GIT for path, _ in items})
            continue
        for chunk in _chunks(items):
            names = [name for _, name in chunk]
            status = _git(["status", "--porcelain=v1", "-z", "--untracked-files=all",
                           "--ignored=matching", "--no-renames", "--", *names], root)
            tracked = _git(["ls-files", "-z", "--", *names], root)
            if status is None or tracked is None or status.returncode or tracked.returncode:
                result.update({path: FileStatus.NOT_IN_GIT for path, _ in chunk})
                continue
            codes = {entry[3:]: entry[:2] for entry in _z_fields(status.stdout)}
            known = set(_z_fields(tracked.stdout))
            clean = [name for _, name in chunk if name in known and name not in codes]
            unlike = _unlike_head(root, clean)
            for path, name in chunk:
                code = codes.get(name)
                if code in ("??", "!!") or (code is None and name not in known):
                    result[path] = FileStatus.UNTRACKED
                elif code is not None or name in unlike:
                    result[path] = FileStatus.MODIFIED
                else:
                    result[path] = FileStatus.COMMITTED
    return result


def _unlike_head(root: Path, names: list[str]) -> set[str]:
    """The names (of one chunk) whose file on disk is not the blob HEAD holds for them.

    `git status` trusts the index: after `update-index --assume-unchanged` or
    `--skip-worktree` it never looks at the file, so an edited file passes as clean and
    apply would record a commit that does not hold what it applied. Hashing the files as
    git would store them, against HEAD's blob ids, cannot be switched off that way. Two
    git calls per chunk; a name git cannot answer for counts as unlike.
    """
    if not names:
        return set()
    tree = _git(["ls-tree", "-z", "HEAD", "--", *names], root)
    if tree is None or tree.returncode:
        return set(names)
    at_head: dict[str, str] = {}
    for entry in _z_fields(tree.stdout):
        meta, _, name = entry.partition("\t")
        mode_type_id = meta.split(" ")
        if len(mode_type_id) == 3 and mode_type_id[1] == "blob":
            at_head[name] = mode_type_id[2]
    on_disk = [name for name in names if name in at_head and (root / name).is_file()]
    if not on_disk:
        return set(names)
    hashed = _git(["hash-object", "--stdin-paths"], root,
                  stdin=b"".join(_stdin_path(name) + b"\n" for name in on_disk))
    ids = hashed.stdout.decode("ascii", "replace").split() if hashed is not None else []
    if hashed is None or hashed.returncode or len(ids) != len(on_disk):
        return set(names)
    same = {name for name, oid in zip(on_disk, ids, strict=True) if oid == at_head[name]}
    return set(names) - same


def _stdin_path(name: str) -> bytes:
    """`name` as one line of `git hash-object --stdin-paths`, which reads a line opening
    with a double quote as C-quoted (and drops a carriage return before the line feed):
    such names, and names with a line break or other control character, are C-quoted."""
    raw = name.encode("utf-8", "surrogateescape")
    if not raw.startswith(b'"') and not any(b < 0x20 or b == 0x7F for b in raw):
        return raw
    quoted = bytearray(b'"')
    for byte in raw:
        if byte in b'"\\':
            quoted += b"\\" + bytes([byte])
        elif byte < 0x20 or byte == 0x7F:
            quoted += b"\\%03o" % byte
        else:
            quoted.append(byte)
    return bytes(quoted + b'"')


def file_status(path: Path) -> FileStatus:
    """committed (and clean) / modified / untracked / not in git."""
    return file_statuses([path])[path]


def last_commits(paths: Iterable[Path]) -> dict[Path, CommitInfo | None]:
    """The newest commit touching each file and its author email (None: never committed).

    One `git log` per work tree and chunk of files, not one per file.
    """
    return _newest_commits(paths, [])


def adding_commits(paths: Iterable[Path]) -> dict[Path, CommitInfo | None]:
    """The commit that added each file (its latest addition, if it was deleted and added
    again) and that commit's author email: a resolution file's default `author`.

    None for every file of a shallow clone (`shallow_work_trees`): there `git log` shows
    the boundary commit adding every file, and its author is not who added them.
    """
    return _newest_commits(paths, ["--diff-filter=A"], skip_shallow=True)


def shallow_work_trees(paths: Iterable[Path]) -> set[Path]:
    """The tops of the shallow clones (`git clone --depth`, CI's default checkout) that
    hold any of `paths`: their files' adding commits cannot be told."""
    return {root for root in _grouped(paths) if root is not None and _is_shallow(root)}


def _is_shallow(root: Path) -> bool:
    done = _git(["rev-parse", "--is-shallow-repository"], root)
    return done is not None and done.returncode == 0 and done.stdout.strip() == b"true"


def last_commit(path: Path) -> CommitInfo | None:
    """(sha, author email) of the newest commit touching `path`; None if never committed."""
    return last_commits([path])[path]


def adding_commit(path: Path) -> CommitInfo | None:
    """(sha, author email) of the commit that added `path`; None if never committed."""
    return adding_commits([path])[path]


def _newest_commits(paths: Iterable[Path], log_filter: list[str], *,
                    skip_shallow: bool = False) -> dict[Path, CommitInfo | None]:
    """Per file, the newest commit `git log <log_filter>` lists for it (`skip_shallow`:
    None for the files of shallow clones, without asking)."""
    result: dict[Path, CommitInfo | None] = {}
    for root, items in _grouped(paths).items():
        result.update({path: None for path, _ in items})
        if root is None or (skip_shallow and _is_shallow(root)):
            continue
        for chunk in _chunks(items):
            wanted = {name: path for path, name in chunk}
            done = _git(["log", "--no-renames", *log_filter, "--format=%x01%H%x02%ae",
                         "--name-only", "-z", "--", *wanted], root)
            if done is None or done.returncode:
                continue  # e.g. no commit yet: nothing was ever committed
            current: CommitInfo | None = None
            for field in _z_fields(done.stdout):
                # newest first; each commit is "\x01SHA\x02EMAIL", then "\nNAME", "NAME"…
                if field.startswith("\x01"):
                    sha, _, email = field[1:].partition("\x02")
                    current = CommitInfo(sha, email)
                    continue
                name = field.lstrip("\n")
                if name in wanted and current is not None:
                    result[wanted.pop(name)] = current
                    if not wanted:
                        break
    return result
