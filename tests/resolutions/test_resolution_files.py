"""Loading resolution files: the model, every problem located, digests, keys, discovery."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from setright.errors import InvalidInput
from setright.frozen import made
from setright.resolutions.files import (
    find_resolution_files,
    load_resolution_file,
    load_resolution_files,
    read_resolution_file,
    read_resolution_files,
)
from setright.resolutions.model import (
    EntryKind,
    RedriveEntry,
    ResolutionEntry,
    canonical_digest,
    entry_key,
    split_entry_key,
)
from setright.schemas import load_schema
from setright.store.states import MANUAL_MARK, ChangeState

GOOD = """\
version: 1
reason: >-
  Connection dropped after the last batch committed; verified all 48,211
  profiles carry v2 fields in user-db.
ticket: OPS-1234
author: jane@example.com
resolutions:
  - change: user-data-sync-v2
    resolution: APPLIED
    expect: STARTED
    target: user-db
    note: "checked with SELECT count(*)"
  - change: cache-warming-q4
    resolution: ROLLED_BACK
    expect: [FAILED, ROLLBACK_FAILED]
redrives:
  - apply: ap-01JD3Q7ZP4
    force: true
    note: fixed the disk
  - apply: ap-01JD3Q7ZP5
"""

# The same content: other comments, quoting, key order, flow style, indentation.
GOOD_REFORMATTED = """\
# resolution for the Tuesday incident
ticket: "OPS-1234"   # the ticket
author: 'jane@example.com'
version: 1
redrives: [{apply: ap-01JD3Q7ZP4, note: "fixed the disk", force: yes}, {apply: ap-01JD3Q7ZP5}]
reason: "Connection dropped after the last batch committed; verified all 48,211 profiles carry v2 fields in user-db."
resolutions:
- {resolution: APPLIED, change: user-data-sync-v2, target: user-db, expect: STARTED,
   note: checked with SELECT count(*)}
- change: cache-warming-q4
  expect:
    - FAILED
    - ROLLBACK_FAILED
  resolution: ROLLED_BACK
"""


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file_becomes_typed_entries_with_their_places(tmp_path: Path) -> None:
    path = write(tmp_path, "resolutions/2026-11-22-sync.yaml", GOOD)
    loaded = load_resolution_file(path, tmp_path)
    assert loaded.path == "resolutions/2026-11-22-sync.yaml"  # the ledger's name: root-relative
    assert loaded.abs_path == path
    assert loaded.reason.startswith("Connection dropped") and loaded.reason.endswith("user-db.")
    assert (loaded.ticket, loaded.author) == ("OPS-1234", "jane@example.com")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", loaded.digest)
    assert [e.key for e in loaded.entries] == [
        "resolution:user-data-sync-v2", "resolution:cache-warming-q4",
        "redrive:ap-01JD3Q7ZP4", "redrive:ap-01JD3Q7ZP5"]
    first, second = loaded.resolutions
    assert first == ResolutionEntry(
        subject="user-data-sync-v2", file=loaded.path, index=0, line=8, column=5,
        note="checked with SELECT count(*)", resolution="APPLIED", expect=("STARTED",),
        target="user-db")
    assert first.change_id == "user-data-sync-v2" and first.kind is EntryKind.RESOLUTION
    assert second.expect == ("FAILED", "ROLLBACK_FAILED") and second.target is None
    assert first.location() == "resolutions/2026-11-22-sync.yaml:8:5"
    assert second.json_path == "$.resolutions[1]"
    forced, plain = loaded.redrives
    assert (forced.apply_id, forced.force, forced.note, forced.line) == (
        "ap-01JD3Q7ZP4", True, "fixed the disk", 17)
    assert (plain.force, plain.note, plain.json_path) == (False, None, "$.redrives[1]")
    assert plain.as_dict() == {
        "kind": "redrive", "key": "redrive:ap-01JD3Q7ZP5", "subject": "ap-01JD3Q7ZP5",
        "file": loaded.path, "index": 1, "line": 20, "column": 5, "note": None, "force": False,
        "accept_drift": False}
    assert first.as_dict()["expect"] == ["STARTED"]


def test_digest_ignores_comments_and_formatting(tmp_path: Path) -> None:
    a = load_resolution_file(write(tmp_path, "a.yaml", GOOD), tmp_path)
    b = load_resolution_file(write(tmp_path, "b.yaml", GOOD_REFORMATTED), tmp_path)
    assert a.data == b.data
    assert a.digest == b.digest
    assert a.digest == canonical_digest(a.data)


@pytest.mark.parametrize("edit", [
    ("fixed the disk", "fixed the disks"),          # a note
    ("expect: STARTED", "expect: [STARTED]"),        # same meaning, different content
    ("    force: true\n", ""),                       # a default made implicit
    ("ROLLED_BACK", "APPLIED"),
    ("ticket: OPS-1234\n", ""),
])
def test_digest_changes_with_any_content_change(tmp_path: Path, edit: tuple[str, str]) -> None:
    old, new = edit
    assert old in GOOD
    a = load_resolution_file(write(tmp_path, "a.yaml", GOOD), tmp_path)
    b = load_resolution_file(write(tmp_path, "b.yaml", GOOD.replace(old, new, 1)), tmp_path)
    assert a.digest != b.digest


def test_canonical_digest_is_pinned() -> None:
    # The digest is stored in the ledger: changing the canonical form would flag every
    # applied file as edited. This pins it.
    assert canonical_digest({"b": [1, "ü"], "a": True}) == (
        "sha256:" + __import__("hashlib").sha256(b'{"a":true,"b":[1,"\\u00fc"]}').hexdigest())


@pytest.mark.parametrize("change_id", ["it's", 'say "hi"', "ünïcødé-✓", "a:b:c", "x\ty", "[0]"])
def test_ids_with_quotes_unicode_and_colons(tmp_path: Path, change_id: str) -> None:
    import yaml

    text = yaml.safe_dump({"version": 1, "reason": "r", "resolutions": [
        {"change": change_id, "resolution": "APPLIED"}], "redrives": [
        {"apply": "ap-" + re.sub(r"\s", "_", change_id)}]}, allow_unicode=True)
    loaded = load_resolution_file(write(tmp_path, "q.yaml", text), tmp_path)
    entry = loaded.resolutions[0]
    assert entry.subject == change_id
    assert entry.key == f"resolution:{change_id}"
    assert split_entry_key(entry.key) == (EntryKind.RESOLUTION, change_id)
    assert split_entry_key(loaded.redrives[0].key) == (EntryKind.REDRIVE, loaded.redrives[0].subject)


def test_entry_keys() -> None:
    assert entry_key("resolution", "x") == "resolution:x"
    assert entry_key(EntryKind.REDRIVE, "ap-1") == "redrive:ap-1"
    with pytest.raises(ValueError):
        split_entry_key("no-colon")
    with pytest.raises(ValueError):
        entry_key("mark", "x")


def problems_of(tmp_path: Path, text: str, name: str = "r.yaml") -> list[str]:
    loaded, problems = read_resolution_file(write(tmp_path, name, text), tmp_path)
    assert (loaded is None) == bool(problems)
    return [str(p) for p in problems]


def test_every_problem_of_a_file_is_reported_with_its_place(tmp_path: Path) -> None:
    text = """\
version: 2
reason: ""
ticket: 1234
colour: blue
resolutions:
  - change: 42
    resolution: APPLY
    expect: STARTD
    when: now
  - change: ok
    expect: [STARTED, bogus]
    target: "bad target"
  - just-a-string
redrives:
  - apply: 01JD
    force: "yes please"
"""
    assert problems_of(tmp_path, text) == [
        "r.yaml:1:10: $.version: 1 was expected",
        "r.yaml:2:9: $.reason: '' is not valid: expected a non-empty reason: why this "
        "resolution is right",
        "r.yaml:3:9: $.ticket: expected a string, got int 1234",
        "r.yaml:4:1: $.colour: unknown key 'colour' (allowed: author, reason, redrives, "
        "resolutions, ticket, version)",
        "r.yaml:6:13: $.resolutions[0].change: 42 is not valid: expected a change id, as the "
        "audit store holds it (quote ids that look like numbers)",
        "r.yaml:7:17: $.resolutions[0].resolution: 'APPLY' is not valid: expected APPLIED or "
        "ROLLED_BACK",
        "r.yaml:8:13: $.resolutions[0].expect: 'STARTD' is not valid: expected a change state: "
        "STARTED, APPLIED, FAILED, ROLLED_BACK, ROLLBACK_FAILED, MANUAL_MARKED_AS_APPLIED or "
        "MANUAL_MARKED_AS_ROLLED_BACK",
        "r.yaml:9:5: $.resolutions[0].when: unknown key 'when' (allowed: change, expect, note, "
        "resolution, target)",
        "r.yaml:10:5: $.resolutions[1]: 'resolution' is required",
        "r.yaml:11:23: $.resolutions[1].expect[1]: 'bogus' is not valid: expected a change "
        "state: STARTED, APPLIED, FAILED, ROLLED_BACK, ROLLBACK_FAILED, "
        "MANUAL_MARKED_AS_APPLIED or MANUAL_MARKED_AS_ROLLED_BACK",
        "r.yaml:12:13: $.resolutions[1].target: 'bad target' is not valid: expected a target "
        "name (guard: the change must belong to this target)",
        "r.yaml:13:5: $.resolutions[2]: 'just-a-string' is not valid: expected a resolution: a "
        "mapping {change: ID, resolution: APPLIED|ROLLED_BACK, expect, target, note}",
        "r.yaml:15:12: $.redrives[0].apply: '01JD' is not valid: expected an apply id such as "
        "ap-01JD3Q7ZP4",
        "r.yaml:16:12: $.redrives[0].force: expected true or false, got str 'yes please'",
    ]


@pytest.mark.parametrize("reason", ['""', "'   '", "", "~", "[a]"])
def test_reason_must_be_non_empty_text(tmp_path: Path, reason: str) -> None:
    found = problems_of(tmp_path, f"version: 1\nreason: {reason}\n"
                                  "resolutions: [{change: x, resolution: APPLIED}]\n")
    assert len(found) == 1 and found[0].startswith("r.yaml:2:")
    assert "$.reason:" in found[0]


def test_reason_is_required(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "version: 1\nresolutions: [{change: x, resolution: APPLIED}]\n"
                       ) == ["r.yaml:1:1: 'reason' is required"]


@pytest.mark.parametrize(("text", "expected"), [
    ("", ["r.yaml: the file is empty; expected a YAML mapping"]),
    ("- a\n- b\n", ["r.yaml:1:1: expected a mapping, got a list"]),
    ("version: 1\nreason: r\n", ["r.yaml:1:1: no entries: expected a 'resolutions' or "
                                 "'redrives' list"]),
    ("version: 1\nreason: r\nresolutions: []\nredrives: []\n",
     ["r.yaml:3:14: $.resolutions: no entries: expected at least one item under resolutions "
      "or redrives"]),
    ("version: 1\nreason: r\nresolutions:\n", ["r.yaml:3:13: $.resolutions: expected a list, "
                                               "got nothing (null)"]),
    ("version: 1\nreason: [unclosed\n", None),
    ("version: 1\nreason: a\nreason: b\nredrives: [{apply: ap-1}]\n",
     ["r.yaml:3:1: $.reason: duplicate key 'reason'"]),
])
def test_malformed_files(tmp_path: Path, text: str, expected: list[str] | None) -> None:
    found = problems_of(tmp_path, text)
    if expected is None:  # a YAML syntax error: located, whatever PyYAML's wording
        assert len(found) == 1 and re.match(r"r\.yaml:\d+:\d+: ", found[0])
    else:
        assert found == expected


def test_one_entry_per_change_and_per_apply_within_a_file(tmp_path: Path) -> None:
    text = """\
version: 1
reason: r
resolutions:
  - {change: a, resolution: APPLIED}
  - {change: b, resolution: APPLIED}
  - {change: a, resolution: ROLLED_BACK}
redrives:
  - apply: ap-1
  - apply: ap-1
"""
    assert problems_of(tmp_path, text) == [
        "r.yaml:6:14: $.resolutions[2].change: change 'a' already has an entry in this file "
        "(line 4, $.resolutions[0]); a file holds one entry per change",
        "r.yaml:9:12: $.redrives[1].apply: apply 'ap-1' already has an entry in this file "
        "(line 8, $.redrives[0]); a file holds one entry per apply",
    ]


def test_a_change_may_be_resolved_and_its_apply_redriven_in_one_file(tmp_path: Path) -> None:
    # Same id, different kinds: different ledger keys, so not a duplicate here.
    text = ("version: 1\nreason: r\nresolutions: [{change: ap-1, resolution: APPLIED}]\n"
            "redrives: [{apply: ap-1}]\n")
    assert problems_of(tmp_path, text) == []


def test_schema_states_are_the_store_states() -> None:
    """`expect` must accept exactly the states the store knows; `resolution` what a mark takes."""
    entry = load_schema("resolution")["properties"]["resolutions"]["items"]["properties"]
    assert entry["expect"]["items"]["enum"] == [s.value for s in ChangeState]
    pattern = entry["expect"]["allOf"][0]["pattern"]
    # `(?!\n)`: Python's `$` would also match before a final newline ("FAILED\n")
    assert pattern == "^(" + "|".join(s.value for s in ChangeState) + ")$(?!\\n)"
    assert entry["resolution"]["then"]["enum"] == list(MANUAL_MARK)


def test_discovery_sorted_yaml_only_no_hidden_no_subfolders(tmp_path: Path) -> None:
    folder = tmp_path / "resolutions"
    for name in ("b.yml", "a.yaml", "C.YAML", ".#a.yaml", "notes.md", "sub/d.yaml", ".gitkeep"):
        write(folder, name, "x")
    assert [p.name for p in find_resolution_files(folder)] == ["C.YAML", "a.yaml", "b.yml"]
    assert find_resolution_files(tmp_path / "nope") == []


def test_discovery_lists_links_whatever_they_point_to_and_skips_folders(tmp_path: Path) -> None:
    folder = tmp_path / "resolutions"
    write(folder, "a.yaml", "x")
    (folder / "folder.yaml").mkdir()
    outside = write(tmp_path, "outside.yaml", "x")
    (folder / "link.yaml").symlink_to(outside)
    (folder / "broken.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (folder / "to-folder.yaml").symlink_to(folder / "folder.yaml")
    assert find_resolution_files(folder) == [
        folder / name for name in ("a.yaml", "broken.yaml", "link.yaml", "to-folder.yaml")]


def test_entries_are_made_as_their_dataclass_makes_them() -> None:
    fields = {"subject": "c", "file": "f.yaml", "index": 0, "line": 3, "column": 5,
              "note": None, "resolution": "APPLIED", "expect": ("FAILED",), "target": None}
    fast, slow = made(ResolutionEntry, dict(fields)), ResolutionEntry(**fields)
    assert (fast, hash(fast), vars(fast), fast.key) == (slow, hash(slow), vars(slow), slow.key)
    with pytest.raises(AttributeError):
        fast.line = 4  # type: ignore[misc]
    for wrong in ({k: v for k, v in fields.items() if k != "target"}, {**fields, "force": True}):
        with pytest.raises(TypeError):
            made(ResolutionEntry, wrong)


def test_load_many_reports_every_problem_of_every_file(tmp_path: Path) -> None:
    folder = tmp_path / "resolutions"
    write(folder, "b.yaml", GOOD)
    write(folder, "a.yaml", GOOD)
    assert [f.path for f in load_resolution_files(folder, tmp_path)] == [
        "resolutions/a.yaml", "resolutions/b.yaml"]
    write(folder, "c.yaml", "version: 1\nreason: ''\nredrives: [{apply: x}]\n")
    write(folder, "d.yaml", "version: 1\nreason: r\n")
    with pytest.raises(InvalidInput) as caught:
        load_resolution_files(folder, tmp_path)
    assert [p.location() for p in caught.value.problems] == [
        "resolutions/c.yaml:2:9", "resolutions/c.yaml:3:20", "resolutions/d.yaml:1:1"]
    assert caught.value.message == "invalid resolution files: 3 problems"


def test_named_paths_files_and_folders_deduplicated(tmp_path: Path) -> None:
    folder = tmp_path / "resolutions"
    a = write(folder, "a.yaml", GOOD)
    write(folder, "b.yaml", GOOD)
    readme = write(tmp_path, "README.md", "# not YAML")
    loaded = load_resolution_files([a, folder, readme, tmp_path / "gone.md"], tmp_path)
    assert [f.path for f in loaded] == ["resolutions/a.yaml", "resolutions/b.yaml"]
    with pytest.raises(InvalidInput) as caught:
        load_resolution_files([tmp_path / "resolutions" / "typo.yaml", tmp_path / "typo"],
                               tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        "resolutions/typo.yaml: no such file or folder", "typo: no such file or folder"]


def test_files_outside_the_root_keep_their_absolute_path(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    outside = write(tmp_path, "elsewhere/x.yaml", GOOD)
    assert load_resolution_file(outside, root).path == outside.as_posix()


def test_single_file_error_names_its_place(tmp_path: Path) -> None:
    path = write(tmp_path, "resolutions/x.yaml", "version: 1\nreason: ''\nredrives: [{apply: ap-1}]\n")
    with pytest.raises(InvalidInput) as caught:
        load_resolution_file(path, tmp_path)
    assert caught.value.message.startswith("invalid resolution file: resolutions/x.yaml:2:9: "
                                           "$.reason: '' is not valid")


def test_entries_are_immutable(tmp_path: Path) -> None:
    loaded = load_resolution_file(write(tmp_path, "a.yaml", GOOD), tmp_path)
    entry = loaded.redrives[0]
    assert isinstance(entry, RedriveEntry)
    with pytest.raises(AttributeError):
        entry.force = False  # type: ignore[misc]


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(load_schema("resolution"))


def test_a_file_the_folder_would_never_read_is_an_error(tmp_path: Path) -> None:
    """A decision committed in a subfolder must fail CI, not be silently never applied."""
    folder = tmp_path / "resolutions"
    (folder / "2026-12").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    body = "version: 1\nreason: ok\nresolutions:\n  - change: x\n    resolution: ROLLED_BACK\n"
    (folder / "2026-12" / "incident.yaml").write_text(body)
    (folder / ".hidden" / "skip.yaml").write_text(body)
    (folder / "2026-12" / "notes.txt").write_text("not YAML")
    (folder / "top.yaml").write_text(body)
    os.mkfifo(folder / "pipe.yaml")
    loaded = read_resolution_files(folder, tmp_path)
    assert [f.path for f in loaded.files] == ["resolutions/top.yaml"]
    assert [(p.source, p.message.split(";")[0]) for p in loaded.problems] == [
        ("resolutions/pipe.yaml", "not a regular file"),
        ("resolutions/2026-12/incident.yaml", "a resolution file in a subfolder is never read:"
                                              " setright reads only the files directly in"
                                              " resolutions/")]


def test_a_value_that_breaks_two_rules_of_a_field_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "resolutions" / "t.yaml"
    path.parent.mkdir()
    path.write_text('version: 1\nreason: ok\nticket: "OPS-1\\nOPS-2"\nresolutions:\n'
                    "  - change: x\n    resolution: ROLLED_BACK\n")
    _, problems = read_resolution_file(path, tmp_path)
    assert [(p.line, p.path) for p in problems] == [(3, "$.ticket")]


@pytest.mark.parametrize("reason", ["\u200b", " \u200b\ufeff \n", "\u2060"])
def test_a_reason_of_invisible_characters_is_empty(tmp_path: Path, reason: str) -> None:
    """Before: a zero-width space passed as a reason (it is not white space to `\\S`)."""
    import json

    text = ("version: 1\nreason: " + json.dumps(reason) +
            "\nresolutions:\n  - {change: a, resolution: APPLIED}\n")
    [problem] = problems_of(tmp_path, text)
    assert problem.startswith("r.yaml:2:9: $.reason: ") and problem.endswith(
        "is not valid: expected a non-empty reason: why this resolution is right"), problem
