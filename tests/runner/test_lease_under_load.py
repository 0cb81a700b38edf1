"""A healthy runner keeps its lease, with real processes on a busy machine.

Four `setright run` race for one target (`lock.ttl: 2s`) while busy-loop
processes keep every core busy: whoever holds the target must renew its lease
in time, through slow statements and a steady stream of store writes, and the
others wait their turn. A lease is lost only when its holder really stopped
renewing; none does here, so no runner may report `lease-lost`, there is never
more than one live apply, and every change ends applied.

This is one trial of `make stress`'s `concurrent_run` (stress/concurrent_run.py, which
says how it judges), at a fixed size: 200 changes, every 50th with a slow statement.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "stress"))

import concurrent_run  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX processes")


def test_racing_runners_on_busy_cores_never_lose_a_live_lease(tmp_path: Path) -> None:
    root = tmp_path / "p"
    total = concurrent_run.project(root, changes=200, slow_every=50)
    with concurrent_run.busy_cores():
        problem, detail = concurrent_run.trial(root, total)
    assert problem is None, (problem, detail)
    assert detail["applied"] == [(total,)] and detail["applies"] == [("completed", 1)]
