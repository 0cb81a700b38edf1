"""`setright init`: the files a new project starts with."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from setright.config import CONFIG_NAME
from setright.errors import SetrightError
from setright.textfile import read_text

CONFIG_TEMPLATE = """\
# setright.yaml: configuration for setright (format version 1).
version: 1

# The audit store: where applies, the audit log and the ledger live.
# Relative paths are relative to this file. SETRIGHT_STORE overrides the URL.
# Point audit_table at flamingockAuditLog to work on a Flamingock SQLite store.
store: {url: "sqlite:///.setright/audit.db", audit_table: setright_audit_log}

# Committed resolution files (YAML): what should happen to failed changes.
resolutions: resolutions

# Databases that changes are applied to, each with a folder of change files
# (SQLite files under data/ are git-ignored: see .gitignore):
#   user-db: {url: "sqlite:///data/user.db", changes: changes/user-db}
targets: {}

run: {max_attempts: 3}       # executions per apply before it is failed
redrive: {max_age: 1d}       # how long after failing an apply may be redriven
lock: {ttl: 60s}             # lock and runner-lease lifetime (renewed every ttl/3)
policy: {require_ticket: false, require_committed: true}
"""


def init_all(root: Path, store_override: str | None, clock: Any) -> list[Path]:
    """`setright init`: the starter layout, the audit store and the .gitignore lines; what
    it created. Any step that fails (a store that cannot be made, a file where a folder
    goes, a folder that cannot be written) leaves nothing behind, so `init` simply runs
    again once that is fixed: a half-made layout would make it refuse ("already exists")."""
    made: list[Path] = []
    created: list[Path] = []
    try:
        made = [folder for folder in (root / ".setright", root, *root.parents)  # innermost first
                if not folder.exists()]
        init_project(root, created)
        created += init_store(root, store_override, clock)
        ignore = ignore_target_files(root)
    except BaseException as exc:
        _remove(created, made)
        if isinstance(exc, OSError):
            raise _cannot_create(exc) from None
        raise
    return created if ignore is None else [*created, ignore]


def _cannot_create(exc: OSError) -> SetrightError:
    """The one line for a path the system refused, naming that path."""
    from setright.redact import escaped_name

    name = escaped_name(str(exc.filename)) if exc.filename is not None else "a file"
    if isinstance(exc, FileExistsError):   # `mkdir` where a file (not a folder) is
        return SetrightError(f"cannot create the folder {name}: a file is in the way")
    return SetrightError(f"cannot create {name}: {exc.strerror or exc}")


def _refuse_link(path: Path, *, unless_there: bool = False) -> None:
    """`init` writes no file through a symbolic link: one committed to a repository may
    point anywhere (git itself no longer follows a linked `.gitignore`). With
    `unless_there`, a link to a file that exists is used as it is (an audit store kept
    on another disk); only a dangling one, which `init` would create, is refused."""
    if path.is_symlink() and not (unless_there and path.exists()):
        from setright.redact import escaped_name

        raise SetrightError(f"cannot write {escaped_name(str(path))}: it is a symbolic link, "
                            "and init writes no file through a link")


def _remove(created: list[Path], made: list[Path]) -> None:
    """Undo `init_project`: the files and folders it listed, then the folders it made if
    nothing else is in them now. Best effort: what could not be removed must not hide
    the error that made `init` fail."""
    for path in reversed(created):
        with contextlib.suppress(OSError):
            if path.is_dir():
                (path / ".gitkeep").unlink(missing_ok=True)
                path.rmdir()
            else:
                path.unlink(missing_ok=True)
    for folder in made:
        with contextlib.suppress(OSError):
            folder.rmdir()


def init_project(root: Path, created: list[Path] | None = None) -> list[Path]:
    """Write the starter layout into `root`; refuse to overwrite an existing config.

    Each path is added to `created` as soon as it exists, so a caller can undo a layout
    that failed halfway."""
    config = root / CONFIG_NAME
    _refuse_link(config)
    if config.exists():
        raise SetrightError(f"{config} already exists; not overwriting it")
    created = [] if created is None else created
    root.mkdir(parents=True, exist_ok=True)
    created.append(config)   # listed first: a write that fails halfway leaves a part
    config.write_text(CONFIG_TEMPLATE, encoding="utf-8")
    for name in ("resolutions", "changes"):
        folder = root / name
        if not folder.exists():
            folder.mkdir()
            created.append(folder)
            (folder / ".gitkeep").write_text("", encoding="utf-8")
    state = root / ".setright"
    state.mkdir(exist_ok=True)
    ignore = state / ".gitignore"
    if not ignore.exists():
        _refuse_link(ignore)
        created.append(ignore)
        ignore.write_text("# the audit store and its WAL files stay out of git\n*\n",
                          encoding="utf-8")
    return created


#: what `init` adds to the project's .gitignore: the SQLite target files of the
#: scaffolded config (data/, with their WAL, shared-memory and journal files)
TARGET_IGNORES = ("/data/*.db", "/data/*.db-wal", "/data/*.db-shm", "/data/*.db-journal")


def ignore_target_files(root: Path) -> Path | None:
    """Add `TARGET_IGNORES` to `root/.gitignore` (creating it); the path if it changed.

    Lines already there are kept and not repeated, so running it twice is harmless."""
    path = root / ".gitignore"
    _refuse_link(path)
    text = read_text(path) if path.exists() else ""
    have = {line.strip() for line in text.splitlines()}
    missing = [p for p in TARGET_IGNORES if p not in have]
    if not missing:
        return None
    if text and not text.endswith("\n"):
        text += "\n"
    text += "# setright: SQLite target databases (and their -wal/-shm files)\n"
    text += "".join(p + "\n" for p in missing)
    path.write_text(text, encoding="utf-8")
    return path


def init_store(root: Path, store_override: str | None, clock: Any) -> list[Path]:
    """Create the audit store the new setright.yaml names, so read commands work at once."""
    from setright.config import load_config
    from setright.store import Store

    config = load_config(root / CONFIG_NAME, store_override=store_override)
    path = config.store.path  # a server store is a database, not a file init creates
    if path is not None:
        _refuse_link(path, unless_there=True)
    existed = path is None or path.exists()
    Store.open(config.store, config.audit_table, clock, timezone=config.timezone).close()
    return [] if existed or path is None else [path]
