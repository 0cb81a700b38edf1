"""Loading change files into `Change` objects.

A change folder is read in file-name order, every file is validated against
`change.v1.json` plus the checks a schema cannot express (the folder's
target, SQL that is only comments, ids unique across the store), and every
problem is reported at once with `file:line:column`, so one `setright run`
shows a user everything to fix. The checksum is what drift is judged by, so it
covers exactly what changes the effect of a change and nothing cosmetic.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from setright import validcache
from setright.config import Config, TargetConfig
from setright.db import DefaultImpl
from setright.errors import ConfigError, InvalidInput, Problem, TargetError
from setright.frozen import made
from setright.jsontext import canonical_json
from setright.runner.change_sql import ScriptSplitter, outside_transaction, sql_problems
from setright.runner.model import Change, Operation
from setright.runner.sql import statement_hash
from setright.runner.targets import target_impl
from setright.schemas import schema_problems
from setright.store.states import Recovery
from setright.yamlfile import (YamlDocument, json_path, load_yaml, outside_link,
                                relative_text, shown)

CHECKSUM_PREFIX = "c1:"
CHANGE_FILE_SUFFIXES = (".yaml", ".yml")

_Site = tuple[str, int | None, int | None]  # where a change's `id:` value is: file, line, column


def change_checksum(
    *,
    id: str,
    target: str,
    transactional: bool,
    recovery: str,
    operations: Sequence[Operation],
    rollback_hash: str | None,
) -> str:
    """`c1:` + sha256 of the canonical JSON of everything that decides what a change does.

    `rollbacks` lists the whole-change rollback first, then each operation's
    own, so the two file forms can never be confused with each other.
    """
    payload = {
        "id": id,
        "target": target,
        "transactional": transactional,
        "recovery": recovery,
        "operations": [op.hash for op in operations],
        "rollbacks": [rollback_hash, *(op.rollback_hash for op in operations)],
    }
    return CHECKSUM_PREFIX + hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def change_files(folder: Path, target: str, *, root: Path | None = None,
                 written_at: str | None = None) -> list[Path]:
    """The change files of a folder in run order: `*.yaml` / `*.yml`, by file name.

    Hidden files (editor swap and lock files) are skipped. A missing folder is
    a configuration error rather than "no changes", so a typo cannot silently
    turn `run` into a no-op.
    """
    return [path for path, _ in _change_entries(folder, target, root, written_at)]


def _change_entries(folder: Path, target: str, root: Path | None,
                    written_at: str | None) -> list[tuple[Path, bool]]:
    """`change_files`, each with whether it is a symbolic link (read from the directory
    listing itself, not with a system call per file). A folder inside the project that
    is a symbolic link leading out of it is refused, as a linked file is: the changes
    that run must be the ones the project's history holds."""
    real_root = root.resolve() if root is not None else None
    place = f"{written_at}: targets.{target}.changes: " if written_at else ""
    if root is not None and outside_link(folder, root):
        raise ConfigError(
            f"{place}the changes folder {_shown(folder, root)} of target {target!r} is a "
            "symbolic link to a folder outside the project; refused",
            ["move the changes into the project, or name their real folder in "
             f"targets.{target}.changes"])
    folder = folder.resolve()
    if not folder.is_dir():
        raise ConfigError(
            f"{place}the changes folder {_shown(folder, real_root)} of target {target!r} "
            "does not exist",
            [f"create it, or fix targets.{target}.changes in the configuration"],
        )
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if (name.endswith(CHANGE_FILE_SUFFIXES) and not name.startswith(".")
                    # a link is refused by name if it leads out; a named pipe or other
                    # special file is listed, to be refused by name when it is read
                    and (entry.is_symlink() or not entry.is_dir())):
                found.append((name, entry.is_symlink()))
    found.sort()   # by name (names in one folder are distinct)
    return [(folder / name, link) for name, link in found]


def load_change_file(path: Path, default_target: str, *, root: Path | None = None,
                     impl: DefaultImpl | None = None) -> Change:
    """One validated change file; `default_target` is its folder's target.

    Raises `InvalidInput` listing every problem of the file. A `targetSystem`
    naming another target is one of them: changes run against the target whose
    folder holds them, never anywhere else. `impl` is the target database's
    seam, which splits the SQL into operations (SQLite's splitter without one).
    """
    # absolute, not resolved: a symbolic link must still look like one to `load_yaml`
    change, _, _ = _load(Path(os.path.abspath(path)), default_target,
                         root.resolve() if root else None, impl)
    return change


def load_changes(folder: Path, target: str, *, root: Path | None = None,
                 impl: DefaultImpl | None = None,
                 warnings: list[Problem] | None = None) -> list[Change]:
    """Every change of one target, in run order; ids must be unique within the folder.
    `warnings` receives what is worth telling but not refusing (see `load_all`)."""
    loader = _Loader(root)
    changes = loader.folder(folder, target, impl)
    loader.raise_problems()
    if warnings is not None:
        warnings.extend(loader.warnings)
    return changes


def load_all(config: Config, warnings: list[Problem] | None = None
             ) -> dict[str, list[Change]]:
    """Every target's changes (in config order); ids must be unique across all targets.

    Each target's files are split by its own database's splitter. Problems of
    every file of every target are collected before raising. `warnings`
    receives, at file:line, each change that says (or defaults to)
    `transactional: true` but cannot run in one transaction on its database.
    """
    loader = _Loader(config.root)
    loaded: dict[str, list[Change]] = {}
    for name, target in config.targets.items():
        loaded[name] = (loader.folder(target.changes, name, splitter_of(target),
                                      target.changes_at)
                        if target.changes is not None else [])
    loader.raise_problems()
    if warnings is not None:
        warnings.extend(loader.warnings)
    return loaded


def splitter_of(target: TargetConfig) -> DefaultImpl | None:
    """The seam that splits `target`'s change scripts; None (SQLite's splitter) for a URL
    setright does not support, which `run` refuses by itself when it opens the target."""
    try:
        return target_impl(target)
    except TargetError:
        return None


class _Loader:
    """Collects the problems of many files and checks ids across all of them."""

    def __init__(self, root: Path | None) -> None:
        self.root = root.resolve() if root is not None else None
        self.failures: list[InvalidInput] = []
        self.duplicates: list[Problem] = []
        self.warnings: list[Problem] = []
        self.sites: dict[str, _Site] = {}

    def folder(self, folder: Path, target: str, impl: DefaultImpl | None = None,
               written_at: str | None = None) -> list[Change]:
        changes: list[Change] = []
        with validcache.one_folder():
            for path, link in _change_entries(folder, target, self.root, written_at):
                try:
                    # In a resolved folder only a link can lead out of the project.
                    change, site, warnings = _load(path, target, self.root, impl, linked=link)
                except InvalidInput as exc:
                    self.failures.append(exc)
                    continue
                self.warnings.extend(warnings)
                self._check_unique(change.id, site)
                changes.append(change)
        return changes

    def _check_unique(self, change_id: str, site: _Site) -> None:
        first = self.sites.setdefault(change_id, site)
        if first is site:
            return
        source, line, column = site
        self.duplicates.append(
            Problem(source, line, column, "$.id",
                    f"change id {change_id!r} is already used by {_where(first)}")
        )

    def raise_problems(self) -> None:
        failures = list(self.failures)
        if self.duplicates:
            failures.append(InvalidInput("duplicate change id", self.duplicates))
        if len(failures) == 1:
            raise failures[0]
        if failures:
            problems = [p for exc in failures for p in exc.problems]
            raise InvalidInput("invalid change files", problems)


def _load(path: Path, default_target: str, root: Path | None, impl: DefaultImpl | None,
          *, linked: bool = True) -> tuple[Change, _Site, list[Problem]]:
    """Load one file; `path` and `root` are already resolved (done once, not per file).
    `linked`: whether `path` may be a symbolic link leading out of `root` (checked then).
    Returns the change, where its id is, and its warnings."""
    source = _shown(path, root)
    doc = load_yaml(path, source, root=root if linked else None)
    problems = schema_problems(doc, "change")
    splitter = ScriptSplitter(impl)  # each SQL text is split once, for every check below
    if isinstance(doc.data, dict):
        problems = _reword_schema_messages(doc, problems)
        problems.extend(_target_problems(doc, default_target))
        problems.extend(sql_problems(doc, splitter))
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise InvalidInput("invalid change file", problems)
    line, column = doc.locate(("id",))
    alone = outside_transaction(doc, splitter)
    warnings = []
    if alone is not None and bool(doc.data.get("transactional", True)):
        warnings.append(alone)
    return (_build(doc.data, default_target, path, splitter, alone is None),
            (source, line, column), warnings)


def _reword_schema_messages(doc: YamlDocument, problems: list[Problem]) -> list[Problem]:
    """Clearer words for the two rules about the file's form (apply/rollback or steps).

    The schema's own message for `apply` next to `steps` would quote the whole
    SQL text, and a missing `apply` does not say that `steps` would do too.
    """
    if "steps" not in doc.data:
        if "apply" in doc.data:
            return problems
        missing = doc.problem((), "'apply' is required")
        return [
            doc.problem((), "'apply' (or 'steps') is required") if p == missing else p
            for p in problems
        ]
    mixed = [key for key in ("apply", "rollback") if key in doc.data]
    paths = {json_path((key,)) for key in mixed}
    kept = [p for p in problems if p.path not in paths]
    for key in mixed:
        kept.append(doc.problem(
            (key,), f"{key!r} cannot be combined with 'steps': use either apply/rollback or steps",
            key=True,
        ))
    return kept


def _target_problems(doc: YamlDocument, default_target: str) -> list[Problem]:
    """What the schema cannot know about the target: it must be the folder's."""
    spec = doc.data.get("targetSystem")
    named = spec.get("id") if isinstance(spec, dict) else spec
    if not (isinstance(named, str) and named and named != default_target):
        return []
    where = ("targetSystem", "id") if isinstance(spec, dict) else ("targetSystem",)
    return [doc.problem(
        where,
        f"targetSystem {shown(named)} does not match this folder's target {default_target!r}",
    )]


def _build(data: dict[str, Any], default_target: str, path: Path,
           splitter: ScriptSplitter, one_transaction: bool = True) -> Change:
    """A `Change` from a document that passed every check. `one_transaction`: whether
    the target's database can run it in one transaction; if not it runs
    non-transactionally, while the checksum keeps what the file says (moving a file to
    another database is not an edit of it)."""
    spec = data.get("targetSystem")
    target = (spec["id"] if isinstance(spec, dict) else spec) or default_target
    strategy = data.get("recovery", _DEFAULT_RECOVERY)
    recovery = _RECOVERIES[strategy["strategy"] if isinstance(strategy, dict) else strategy]
    declared = bool(data.get("transactional", True))
    transactional = declared and one_transaction
    rollback: str | None = None
    if "steps" in data:
        operations = tuple(_step(seq, step) for seq, step in enumerate(data["steps"], start=1))
    else:
        statements = splitter.statements(data["apply"])
        operations = tuple(
            made(Operation, {"seq": seq, "statement": statement,
                             "hash": statement_hash(statement), "rollback": None,
                             "rollback_hash": None})
            for seq, statement in enumerate(statements, start=1)
        )
        if data.get("rollback") is not None:
            rollback = data["rollback"].strip()
    rollback_hash = statement_hash(rollback) if rollback is not None else None
    return made(Change, {  # Change(...) at half the cost: 2,000 a run
        "id": data["id"],
        "target": target,
        "author": data.get("author"),
        "transactional": transactional,
        "recovery": recovery,
        "operations": operations,
        "rollback": rollback,
        "rollback_hash": rollback_hash,
        "checksum": change_checksum(
            id=data["id"], target=target, transactional=declared, recovery=recovery,
            operations=operations, rollback_hash=rollback_hash,
        ),
        "source_file": path,
        "order": path.name,
    })


#: each `Recovery` as written → its value (the schema allows no other; a lookup per file)
_RECOVERIES = {str(recovery): str(recovery) for recovery in Recovery}
_DEFAULT_RECOVERY = str(Recovery.MANUAL_INTERVENTION)


def _step(seq: int, step: dict[str, Any]) -> Operation:
    """A step is one operation: its apply text runs as one unit, with its own rollback."""
    statement = step["apply"].strip()
    rollback = step["rollback"].strip() if step.get("rollback") is not None else None
    return Operation(
        seq=seq,
        statement=statement,
        hash=statement_hash(statement),
        rollback=rollback,
        rollback_hash=statement_hash(rollback) if rollback is not None else None,
    )


def _shown(path: Path, root: Path | None) -> str:
    """The name shown in messages: relative to the config root when inside it.

    Both paths must be resolved alike, else nothing is inside the root.
    """
    if root is not None:
        fast = relative_text(str(path), root)
        if fast is not None:
            return fast
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return str(path)


def _where(site: _Site) -> str:
    source, line, column = site
    return source if line is None else f"{source}:{line}:{column}"
