"""Checks across resolution files and against the ledger: what `validate` runs.

Per-file problems (syntax, schema, one entry per change per file) come from
`files`. Here: policies (`require_ticket`), two unapplied entries for one change
or apply, and the ledger's history: an applied file must not change, a renamed
one keeps its applied entries, a deleted one is worth a warning. Without the
ledger (no store yet) a repeated id is only a warning, since a change may
legitimately be resolved again after a later failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from setright.errors import Problem
from setright.redact import escaped_name
from setright.resolutions.files import find_resolution_files, read_resolution_files, relative_name
from setright.resolutions.model import Entry, EntryKind, RedriveEntry, ResolutionEntry, ResolutionFile

if TYPE_CHECKING:
    from setright.config import Config


class AppliedRow(Protocol):
    file_digest: str
    applied_at: str | None


class AppliedLedger(Protocol):
    """What the checks need from the ledger (`store.ledger.LedgerIndex` provides it)."""

    def rows_for_file(self, resolution_file: str) -> Mapping[str, AppliedRow]: ...
    def files_with_digest(self, file_digest: str) -> list[str]: ...
    def files(self) -> list[str]: ...


@dataclass
class CheckResult:
    """Problems by severity, plus which entries count as applied (for the planner)."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    #: (file path, entry key) of every entry already in the ledger, renames included
    applied: set[tuple[str, str]] = field(default_factory=set)
    #: current path → the path its applied rows are recorded under
    renamed_from: dict[str, str] = field(default_factory=dict)
    ledger_read: bool = False

    def is_applied(self, entry: Entry) -> bool:
        return bool(self.applied) and (entry.file, entry.key) in self.applied

    def pending(self, files: Iterable[ResolutionFile]) -> list[ResolutionEntry | RedriveEntry]:
        """Entries not yet applied, in file order: what a plan acts on."""
        return [e for f in files for e in f.entries if not self.is_applied(e)]


@dataclass
class ValidationReport:
    """Everything `setright validate` shows."""

    file_names: list[str]
    entry_count: int
    errors: list[Problem]
    warnings: list[Problem]
    notes: list[Problem]


TICKET_REQUIRED = "ticket is required (policy.require_ticket in setright.yaml)"


def missing_ticket(config: Config, ticket: str | None) -> str | None:
    """The policy's complaint when a write has no ticket but policy.require_ticket says it
    must, else None. One rule for resolution files and for `audit fix` / `redrive`."""
    if config.require_ticket and not (ticket or "").strip():
        return TICKET_REQUIRED
    return None


def check_files(files: Sequence[ResolutionFile], *, config: Config,
                ledger: AppliedLedger | None = None, selected: Iterable[str] | None = None,
                report_missing: bool = True) -> CheckResult:
    """Check loaded files together and against the ledger (None: the store is unreachable).

    `selected`: report problems only for these file paths (the others are
    context, e.g. the rest of the folder when a pre-commit hook names one file).
    `report_missing`: warn about applied files that no longer exist.
    """
    files = sorted(files, key=lambda f: f.path)
    chosen = None if selected is None else set(selected)
    result = CheckResult(ledger_read=ledger is not None)
    if ledger is not None:
        _check_history(files, ledger, config.root, result)
    for file in files:
        has_pending = any(not result.is_applied(e) for e in file.entries)
        if (ledger is None or has_pending) and (missing := missing_ticket(config, file.ticket)):
            result.errors.append(Problem(file.path, 1, 1, "$", missing))
    _check_repeats(files, result, ledger is not None, chosen)
    if ledger is not None and report_missing:
        _check_missing(files, ledger, config.root, result)
    if chosen is not None:
        for found in (result.errors, result.warnings, result.notes):
            found[:] = [p for p in found if p.source in chosen]
    return result


def _short(digest: str) -> str:
    return digest[: len("sha256:") + 12]


def _check_history(files: Sequence[ResolutionFile], ledger: AppliedLedger, root: Path,
                   result: CheckResult) -> None:
    """Applied files must be unchanged; a known digest under another path is a rename."""
    for file in files:
        rows = ledger.rows_for_file(file.path)
        if rows:
            applied_digests = sorted({row.file_digest for row in rows.values()})
            if applied_digests != [file.digest]:
                was = ", ".join(_short(d) for d in applied_digests)
                result.errors.append(Problem(
                    file.path, 1, 1, "$",
                    f"resolution file changed after it was applied (applied as {was}, now "
                    f"{_short(file.digest)}); restore it and put new entries in a new file"))
            result.applied.update((file.path, e.key) for e in file.entries if e.key in rows)
            continue
        earlier = [p for p in ledger.files_with_digest(file.digest) if p != file.path]
        if not earlier:
            continue
        gone = [p for p in earlier if not (root / p).exists()]
        source = (gone or earlier)[0]
        source_rows = ledger.rows_for_file(source)
        result.applied.update((file.path, e.key) for e in file.entries if e.key in source_rows)
        result.renamed_from[file.path] = source
        when = max((r.applied_at or "" for r in source_rows.values()), default="")
        applied = f"applied {when}" if when else "applied"
        if gone:
            result.notes.append(Problem(
                file.path, 1, 1, "$",
                f"renamed from {escaped_name(source)} ({applied}): its entries count as applied"))
        else:
            result.warnings.append(Problem(
                file.path, 1, 1, "$",
                f"same content as {source} ({applied}): its entries count as applied here "
                f"too; delete the copy"))


def _check_repeats(files: Sequence[ResolutionFile], result: CheckResult, ledger_read: bool,
                   chosen: set[str] | None) -> None:
    """Two unapplied entries for one change or apply: an error with the ledger, else a warning."""
    pending = [e for file in files for e in file.entries if not result.is_applied(e)]
    subjects = [(e.kind, e.subject) for e in pending]
    if len(set(subjects)) == len(subjects):
        return   # the most: no subject twice, nothing to group
    groups: dict[tuple[EntryKind, str], list[Entry]] = {}
    for entry, subject in zip(pending, subjects, strict=True):
        groups.setdefault(subject, []).append(entry)
    for (kind, subject), entries in groups.items():
        if len(entries) < 2:
            continue
        what = "change" if kind is EntryKind.RESOLUTION else "apply"
        # Terraform-style: flag every repeat after the first; flag the first instead when it
        # is the only one selected (a pre-commit hook naming only that file still sees it).
        flagged = [e for e in entries[1:] if chosen is None or e.file in chosen]
        if not flagged and (chosen is None or entries[0].file in chosen):
            flagged = entries[:1]
        for entry in flagged:
            others = ", ".join(o.location() for o in entries if o is not entry)
            if ledger_read:
                message = (f"{what} {subject!r} also has an unapplied entry at {others}; "
                           f"keep one")
                bucket = result.errors
            else:
                message = (f"{what} {subject!r} also has an entry at {others}; that is an "
                           f"error unless one of them was already applied (the ledger was "
                           f"not read)")
                bucket = result.warnings
            bucket.append(Problem(entry.file, entry.line, entry.column, entry.json_path,
                                  message))


def _check_missing(files: Sequence[ResolutionFile], ledger: AppliedLedger, root: Path,
                   result: CheckResult) -> None:
    """An applied file that is gone (and was not renamed) loses its review trail: warn."""
    loaded = {f.path for f in files}
    digests = {f.digest for f in files}
    for path in ledger.files():
        if path in loaded or (root / path).exists():
            continue
        rows = ledger.rows_for_file(path)
        if any(row.file_digest in digests for row in rows.values()):
            continue  # renamed: reported on the new path
        when = max((r.applied_at or "" for r in rows.values()), default="")
        count = len(rows)
        result.warnings.append(Problem(  # a name from the ledger: an old one may hold anything
            escaped_name(path), None, None, "",
            f"applied resolution file was deleted ({count} {'entry' if count == 1 else 'entries'}"
            f"{', applied ' + when if when else ''}); the ledger keeps the record, but the "
            f"reviewed file is gone"))


def validate_resolutions(config: Config, paths: Sequence[Path] | None = None, *,
                         ledger: AppliedLedger | None = None) -> ValidationReport:
    """Schema and semantic checks of the named files (default: the resolutions folder).

    The rest of the folder is loaded as context, so a duplicate in a file
    that is not named is still found.
    """
    folder = config.resolutions
    whole_folder = paths is None or any(
        Path(p).resolve() == folder.resolve() for p in paths)
    sources = list(paths) if paths is not None else [folder] if folder.is_dir() else []
    loaded = read_resolution_files(sources, config.root)
    named = set(loaded.names)
    context_paths = [p for p in find_resolution_files(folder)
                     if relative_name(p, config.root) not in named]
    context = read_resolution_files(context_paths, config.root).files if context_paths else []
    result = check_files([*loaded.files, *context], config=config, ledger=ledger,
                         selected=None if whole_folder else loaded.names,
                         report_missing=whole_folder)
    return ValidationReport(
        file_names=loaded.names,
        entry_count=sum(len(f.entries) for f in loaded.files),
        errors=loaded.problems + result.errors,
        warnings=result.warnings,
        notes=result.notes,
    )
