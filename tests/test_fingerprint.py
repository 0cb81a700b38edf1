"""`fingerprints` gives the values `fingerprint` gives one by one, from one DeepHash."""

from __future__ import annotations

from setright.fingerprint import compact_fingerprints, fingerprint, fingerprints
from setright.jsontext import canonical_json


def test_a_batch_has_the_fingerprints_of_its_items_alone() -> None:
    shared = {"apply_id": "a-1", "position": 1, "state": "failed"}
    items = [None, {}, {"change_id": "c", "audit_id": 3, "latest_task": shared},
             {"change_id": "d", "audit_id": 4, "latest_task": shared}, [1, "x"], "text", 7,
             {"change_id": "c", "audit_id": 3, "latest_task": dict(shared)}]
    assert fingerprints(items) == [fingerprint(item) for item in items]
    assert fingerprints(items)[2] == fingerprints(items)[7]      # equal data, equal print
    assert fingerprints(items)[2] != fingerprints(items)[3]
    assert fingerprints([]) == []


def test_compact_prints_follow_the_data_not_its_key_order() -> None:
    guard = {"change_id": "c", "audit_id": 3, "state": "FAILED", "latest_task": None}
    same = dict(reversed(list(guard.items())))
    changed = [{**guard, "audit_id": "3"}, {**guard, "audit_id": 4}, {**guard, "state": None},
               {**guard, "latest_task": {"apply_id": "a", "position": 1}}]
    prints = compact_fingerprints([guard, same, *changed, None])
    assert prints[0] == prints[1] and prints[0].startswith("dh1:")
    assert len(set(prints[1:])) == len(prints) - 1                # every change shows
    assert prints[-1] == fingerprint(None)
    assert compact_fingerprints([guard]) == [fingerprint(canonical_json(guard))]


def test_the_recorded_deepdiff_version_is_the_installed_one() -> None:
    from importlib.metadata import version

    from setright.fingerprint import deepdiff_version

    assert deepdiff_version() == version("deepdiff")


def test_compact_prints_are_pinned() -> None:
    """The prints a saved plan holds: the same bytes hashed the same way, whatever makes the
    canonical text (a plan saved by an older setright must still apply)."""
    from pathlib import Path

    guards = [
        {"change_id": "change-000001", "audit_id": 20, "state": "FAILED", "target": "user-db",
         "latest_task": None},
        {"change_id": 'ü ✓ "q"', "audit_id": 3, "state": "STARTED", "target": None,
         "latest_task": {"apply_id": "ap-1", "position": 2, "state": "failed",
                         "apply_state": "failed"}},
        {"n": 1.5, "path": Path("a/b"), "list": [1, "x", None, True]}, {}, None]
    assert compact_fingerprints(guards) == [
        "dh1:655c6b5de947d7b4052e6167cc641f730cf48d161905468da064f9e359f2697e",
        "dh1:0044e7b76c15f65e469a5472c519ce11908f5e4c36b0b988cd78cdc6c3f2cac8",
        "dh1:25abc0c438e793c48381e526b823ac686b94909788bcd8f7a2317ef63a3b98b4",
        "dh1:0e2407e0f47052013c44ba4e45ec83c3d3cdfc325625fc4ffbd54237569ac05c",
        "dh1:bbd393a60007e5f9621b8fde442dbcf493227ef7ced9708aa743b46a88e1b49e"]
    assert compact_fingerprints(guards[:4]) == [fingerprint(canonical_json(g))
                                                for g in guards[:4]]
