"""`fingerprints` gives the values `fingerprint` gives one by one, from one DeepHash."""

from __future__ import annotations

from setright.fingerprint import canonical_json, compact_fingerprints, fingerprint, fingerprints


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
