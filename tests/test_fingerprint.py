"""`fingerprints` gives the values `fingerprint` gives one by one, from one DeepHash."""

from __future__ import annotations

from setright.fingerprint import fingerprint, fingerprints


def test_a_batch_has_the_fingerprints_of_its_items_alone() -> None:
    shared = {"apply_id": "a-1", "position": 1, "state": "failed"}
    items = [None, {}, {"change_id": "c", "audit_id": 3, "latest_task": shared},
             {"change_id": "d", "audit_id": 4, "latest_task": shared}, [1, "x"], "text", 7,
             {"change_id": "c", "audit_id": 3, "latest_task": dict(shared)}]
    assert fingerprints(items) == [fingerprint(item) for item in items]
    assert fingerprints(items)[2] == fingerprints(items)[7]      # equal data, equal print
    assert fingerprints(items)[2] != fingerprints(items)[3]
    assert fingerprints([]) == []
