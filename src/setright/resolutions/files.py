"""Resolution files (format v1): finding, loading and checking them (the model: `model.py`).

A file is loaded through `yamlfile` so every problem names `file:line:column`
and its JSON path, and *every* problem of a file is reported at once: a
reviewer fixes a file in one pass instead of one error per run. Files are
named by their path relative to the config root, POSIX style, because that
name is what the ledger records (`setright_ledger.resolution_file`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from setright import validcache
from setright.errors import InvalidInput, Problem, SetrightError
from setright.frozen import made
from setright.redact import escaped_name
from setright.resolutions.model import (
    LISTS,
    EntryKind,
    LoadedFiles,
    RedriveEntry,
    ResolutionEntry,
    ResolutionFile,
    canonical_digest,
    list_name,
)
from setright.yamlfile import YamlDocument, json_path, load_yaml, relative_text

YAML_SUFFIXES = (".yaml", ".yml")


def relative_name(path: Path, root: Path) -> str:
    """The name a file goes by in messages and the ledger: POSIX path relative to `root`."""
    absolute = os.path.abspath(path)
    fast = relative_text(absolute, root)
    if fast is not None:
        return fast   # the common case, as text
    for candidate in (Path(absolute), Path(absolute).resolve()):
        try:
            return candidate.relative_to(root).as_posix()
        except ValueError:
            continue
    return Path(absolute).as_posix()


def is_yaml_name(name: str) -> bool:
    """`*.yaml` / `*.yml`, skipping hidden files (editor swap and backup files)."""
    return not name.startswith(".") and name.lower().endswith(YAML_SUFFIXES)


def find_resolution_files(folder: Path) -> list[Path]:
    """The YAML files directly in `folder`, sorted by name; none if it does not exist.

    Symbolic links are listed whatever they point to, so that one leading out
    of the project (or nowhere) is refused by name rather than skipped.
    """
    if not folder.is_dir():
        return []
    with os.scandir(folder) as listing:   # the listing's file types: no stat per file
        names = sorted(e.name for e in listing
                       if is_yaml_name(e.name) and (e.is_file() or e.is_symlink()))
    return [folder / name for name in names]


# -- loading ----------------------------------------------------------------


def load_resolution_file(path: Path, root: Path) -> ResolutionFile:
    """Load one file; raise `InvalidInput` listing every problem it has."""
    loaded, problems = read_resolution_file(path, root)
    if loaded is None:
        raise InvalidInput("invalid resolution file", problems)
    return loaded


def load_resolution_files(sources: Path | Iterable[Path], root: Path) -> list[ResolutionFile]:
    """Load a folder or a list of files/folders, sorted by path; raise listing every problem."""
    loaded = read_resolution_files(sources, root)
    if loaded.problems:
        raise InvalidInput("invalid resolution files", loaded.problems)
    return loaded.files


def read_resolution_files(sources: Path | Iterable[Path], root: Path, *,
                          folder: Path | None = None) -> LoadedFiles:
    """Like `load_resolution_files` but returns problems instead of raising (for `validate`).

    Folders contribute their `*.yaml`/`*.yml` files; other files are ignored
    (so a pre-commit hook may pass every changed path); a YAML file or a
    folder that does not exist is a problem (most likely a typo). With `folder`
    (the resolutions folder: `plan` and `apply`), each source must be that folder
    or a YAML file directly in it, else `SetrightError` (see `expand_sources`).
    """
    named, problems = expand_sources(sources, root, folder=folder)
    files: list[ResolutionFile] = []
    with validcache.one_folder():
        for name, path in named.items():
            loaded, found = read_resolution_file(path, root, name=name)
            problems.extend(found)
            if loaded is not None:
                files.append(loaded)
    return LoadedFiles(files=files, problems=problems, names=list(named))


def expand_sources(sources: Path | Iterable[Path], root: Path, *, folder: Path | None = None
                   ) -> tuple[dict[str, Path], list[Problem]]:
    """YAML files named by `sources` (folders expanded) by root-relative name, sorted.

    With `folder`, a source that is neither that folder nor a YAML file directly in it
    raises `SetrightError`: what is applied is recorded by its name in the project (the
    ledger's, and its git commit's), so a file from elsewhere, another repository
    say, must never be planned. Accepted sources are spelled as the folder's listing
    spells them, so a file has one ledger name however its path was typed."""
    items = [sources] if isinstance(sources, Path) else list(sources)
    if folder is not None:
        real: dict[str, str] = {}   # one walk per folder spelled, not per file
        items = [in_folder(item, folder, root, real) for item in items]
    found: dict[str, Path] = {}
    problems: list[Problem] = []
    for item in items:
        if item.is_dir():
            candidates = find_resolution_files(item)
            problems.extend(_never_read(item, root))
        elif item.is_file() or item.is_symlink() or (item.suffix and not is_yaml_name(item.name)):
            candidates = [item] if is_yaml_name(item.name) else []
        else:  # a missing YAML file or folder (most likely a typo), or a device
            problems.append(Problem(relative_name(item, root), None, None, "",
                                    "not a regular file or folder" if item.exists()
                                    else "no such file or folder"))
            continue
        for path in candidates:
            found.setdefault(relative_name(path, root), path)
    return {name: found[name] for name in sorted(found)}, problems


def in_folder(item: Path, folder: Path, root: Path, real: dict[str, str] | None = None
              ) -> Path:
    """`item` as `folder` or `folder / name` when it is that folder or a YAML file directly
    in it, by real path (links resolved, so another spelling of the project is the
    project; a name that differs only in case is another folder); else raise naming both.
    `real`: realpaths already found, by the text they were found for."""
    real = {} if real is None else real

    def resolved(text: str) -> str:
        if text not in real:
            real[text] = os.path.realpath(text)
        return real[text]

    text = os.fspath(item)
    parent, name = os.path.split(text)
    if is_yaml_name(name) and resolved(parent or os.curdir) == resolved(os.fspath(folder)) \
            and not os.path.isdir(text):
        return folder / name
    if os.path.realpath(text) == resolved(os.fspath(folder)):
        return folder
    raise SetrightError(f"{escaped_name(text)}: not a resolution file of this project: "
                        f"setright reads only the *.yaml and *.yml files directly in "
                        f"{escaped_name(relative_name(folder, root))}/ (or that folder)")


def _never_read(folder: Path, root: Path) -> list[Problem]:
    """YAML files a folder holds that would never be read: in a subfolder (setright reads
    only the files directly in it), or not a file at all (a pipe, a device). Each is an
    error, so a decision committed in the wrong place fails CI instead of never applying."""
    problems = []
    with os.scandir(folder) as listing:
        odd = sorted(e.name for e in listing if is_yaml_name(e.name) and not e.is_dir()
                     and not (e.is_file() or e.is_symlink()))
    problems += [Problem(relative_name(folder / name, root), None, None, "",
                         "not a regular file; setright reads only files") for name in odd]
    for parent, folders, names in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        if parent == os.fspath(folder):
            continue
        problems += [Problem(relative_name(Path(parent, name), root), None, None, "",
                             "a resolution file in a subfolder is never read: setright reads "
                             f"only the files directly in {relative_name(folder, root)}/; "
                             "move it there")
                     for name in sorted(names) if is_yaml_name(name)]
    return problems


def read_resolution_file(path: Path, root: Path, *, name: str | None = None
                         ) -> tuple[ResolutionFile | None, list[Problem]]:
    """The file (or None) and every problem found in it: syntax, schema, and structure."""
    from setright.schemas import schema_problems

    name = name or relative_name(path, root)
    try:
        doc = load_yaml(path, name, root=root)
    except InvalidInput as exc:
        return None, list(exc.problems)
    problems = schema_problems(doc, "resolution")
    problems.extend(_structure_problems(doc))
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        return None, problems
    data: dict[str, Any] = doc.data
    absolute = os.path.abspath(path)
    return ResolutionFile(
        path=name,
        abs_path=path if absolute == str(path) and isinstance(path, Path) else Path(absolute),
        digest=canonical_digest(data),
        reason=data["reason"],
        ticket=data.get("ticket"),
        author=data.get("author"),
        entries=tuple(_entries(doc, name)),
        data=data,
    ), []


def _subjects(doc: YamlDocument) -> Iterator[tuple[EntryKind, int, str, str]]:
    """(kind, index, subject key, subject) of every well-formed-enough entry."""
    if not isinstance(doc.data, dict):
        return
    for (items_key, subject_key), kind in zip(LISTS, EntryKind, strict=True):
        items = doc.data.get(items_key)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get(subject_key), str):
                yield kind, index, subject_key, item[subject_key]


def _structure_problems(doc: YamlDocument) -> list[Problem]:
    """What a schema cannot say well: at least one entry; one entry per change/apply per file.

    A file holds one entry per subject because the ledger records applied
    entries by (file, entry key): two entries with one key could never both be
    recorded. Resolving a change again later belongs in a new file.
    """
    data = doc.data
    if not isinstance(data, dict):
        return []
    problems: list[Problem] = []
    lists = [name for name, _ in LISTS if isinstance(data.get(name), list)]
    if lists and not any(data[name] for name in lists):
        problems.append(doc.problem((lists[0],), "no entries: expected at least one item under "
                                    "resolutions or redrives"))
    elif not any(name in data for name, _ in LISTS):
        problems.append(doc.problem((), "no entries: expected a 'resolutions' or 'redrives' list"))
    if not _repeats(data):
        return problems
    first: dict[tuple[EntryKind, str], int] = {}
    for kind, index, subject_key, subject in _subjects(doc):
        seen = first.setdefault((kind, subject), index)
        if seen != index:
            line, _ = doc.locate((list_name(kind), seen))
            what = "change" if kind is EntryKind.RESOLUTION else "apply"
            problems.append(doc.problem(
                (list_name(kind), index, subject_key),
                f"{what} {subject!r} already has an entry in this file (line {line}, "
                f"{json_path((list_name(kind), seen))}); a file holds one entry per {what}",
            ))
    return problems


def _repeats(data: dict[str, Any]) -> bool:
    """Whether a list names one subject twice (most files: no, told without `_subjects`)."""
    for items_key, subject_key in LISTS:
        items = data.get(items_key)
        if isinstance(items, list):
            subjects = [s for s in (i.get(subject_key) if isinstance(i, dict) else None
                                    for i in items) if isinstance(s, str)]
            if len(set(subjects)) != len(subjects):
                return True
    return False


def _entries(doc: YamlDocument, name: str) -> Iterator[ResolutionEntry | RedriveEntry]:
    """Typed entries of a schema-valid document, in file order (resolutions, then redrives)."""
    marks: dict[str, list[tuple[int, int]]] = {}
    for kind, index, _, subject in _subjects(doc):
        items_key = list_name(kind)
        if items_key not in marks:
            marks[items_key] = doc.locate_items((items_key,))
        item = doc.data[items_key][index]
        line, column = marks[items_key][index]
        common = {"subject": subject, "file": name, "index": index, "line": line,
                  "column": column, "note": item.get("note")}
        if kind is EntryKind.RESOLUTION:
            expect = item.get("expect", ())
            yield made(ResolutionEntry, {
                **common, "resolution": item["resolution"],
                "expect": (expect,) if isinstance(expect, str) else tuple(expect),
                "target": item.get("target")})
        else:
            yield made(RedriveEntry, {
                **common, "force": bool(item.get("force", False)),
                "accept_drift": bool(item.get("accept_drift", False))})


