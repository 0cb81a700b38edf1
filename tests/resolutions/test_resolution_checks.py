"""`check_files`: what the planner builds on (applied entries, renames, pending entries)."""

from __future__ import annotations

from pathlib import Path

import pytest

from setright.config import Config
from setright.resolutions.checks import check_files
from setright.resolutions.files import ResolutionFile, load_resolution_file
from setright.store.ledger import LedgerIndex, LedgerRow

A = "version: 1\nreason: r\nresolutions: [{change: x, resolution: APPLIED}]\n" \
    "redrives: [{apply: ap-1}]\n"
B = "version: 1\nreason: s\nresolutions: [{change: y, resolution: ROLLED_BACK}]\n"
C = "version: 1\nreason: t\nresolutions: [{change: x, resolution: ROLLED_BACK}]\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "resolutions").mkdir()
    return tmp_path


def config(root: Path, **policy: bool) -> Config:
    return Config(root=root, path=root / "setright.yaml", store_url="sqlite:///x.db",
                  store_path=root / "x.db", resolutions=root / "resolutions", **policy)


def load(root: Path, name: str, text: str) -> ResolutionFile:
    path = root / "resolutions" / name
    path.write_text(text)
    return load_resolution_file(path, root)


def rows(file: ResolutionFile, path: str | None = None, digest: str | None = None
         ) -> list[LedgerRow]:
    return [LedgerRow(path or file.path, e.key, digest or file.digest, "change", "pl-1", None,
                      "jane", "2026-11-20T09:30:00.000Z") for e in file.entries]


def test_without_a_ledger_everything_is_pending_and_repeats_are_warnings(root: Path) -> None:
    a, c = load(root, "a.yaml", A), load(root, "c.yaml", C)
    result = check_files([c, a], config=config(root))
    assert not result.ledger_read and result.errors == [] and result.applied == set()
    assert [(w.source, w.line, w.path) for w in result.warnings] == [
        ("resolutions/c.yaml", 3, "$.resolutions[0]")]
    assert [e.key for e in result.pending([a, c])] == [
        "resolution:x", "redrive:ap-1", "resolution:x"]


def test_applied_entries_are_not_pending(root: Path) -> None:
    a, b = load(root, "a.yaml", A), load(root, "b.yaml", B)
    result = check_files([a, b], config=config(root), ledger=LedgerIndex(rows(a)))
    assert result.ledger_read
    assert result.applied == {("resolutions/a.yaml", "resolution:x"),
                              ("resolutions/a.yaml", "redrive:ap-1")}
    assert [e.key for e in result.pending([a, b])] == ["resolution:y"]
    assert result.is_applied(a.entries[0]) and not result.is_applied(b.entries[0])


def test_a_rename_carries_the_applied_entries(root: Path) -> None:
    a = load(root, "new.yaml", A)
    c = load(root, "c.yaml", C)
    ledger = LedgerIndex(rows(a, path="resolutions/old.yaml"))
    result = check_files([a, c], config=config(root), ledger=ledger)
    assert result.renamed_from == {"resolutions/new.yaml": "resolutions/old.yaml"}
    assert result.errors == [] and result.warnings == []
    assert [e.key for e in result.pending([a, c])] == ["resolution:x"]  # only c's entry
    assert [n.message for n in result.notes] == [
        "renamed from resolutions/old.yaml (applied 2026-11-20T09:30:00.000Z): its entries "
        "count as applied"]


def test_an_edited_applied_file_is_an_error_and_keeps_its_history(root: Path) -> None:
    a = load(root, "a.yaml", A)
    ledger = LedgerIndex(rows(a, digest="sha256:" + "1" * 64))
    result = check_files([a], config=config(root), ledger=ledger)
    assert [e.message.split(" (")[0] for e in result.errors] == [
        "resolution file changed after it was applied"]
    assert result.pending([a]) == []  # what was applied stays applied


def test_missing_files_only_when_asked(root: Path) -> None:
    a = load(root, "a.yaml", A)
    ledger = LedgerIndex(rows(a, path="resolutions/gone.yaml", digest="sha256:" + "2" * 64))
    assert len(check_files([a], config=config(root), ledger=ledger).warnings) == 1
    assert check_files([a], config=config(root), ledger=ledger,
                       report_missing=False).warnings == []


def test_selection_limits_what_is_reported_not_what_is_compared(root: Path) -> None:
    a, b, c = load(root, "a.yaml", A), load(root, "b.yaml", B), load(root, "c.yaml", C)
    result = check_files([a, b, c], config=config(root, require_ticket=True),
                         ledger=LedgerIndex([]), selected=["resolutions/c.yaml"])
    assert sorted((e.source, e.path) for e in result.errors) == [
        ("resolutions/c.yaml", "$"), ("resolutions/c.yaml", "$.resolutions[0]")]
