"""Facts the issue rule reads from the store: leases of live and terminal applies."""

from __future__ import annotations

import pytest

from setright.store import Store
from setright.store.issues import verdict_for
from storehelp import T0, apply_row, audit


@pytest.mark.parametrize(("apply_state", "reason"), [
    ("running", "running"),                          # a live lease: someone is on it
    ("failed", "started-never-completed"),           # terminal: its lease means nothing
    ("completed", "started-never-completed"),
])
def test_only_a_non_terminal_apply_holds_a_lease(store: Store, apply_state, reason) -> None:
    with store.write() as tx:
        apply_row(tx, "ap-1", "user-db", apply_state, lease_token="t",
                  lease_expires_at="2026-11-22T12:05:00.000Z")  # five minutes from now
    audit(store, "c1", "STARTED", execution_id="ap-1")
    assert verdict_for(store.conn, T0, "c1").reason == reason
