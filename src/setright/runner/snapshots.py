"""Schema snapshots of targets: at failure time (written by the runner) and live (read).

A failed apply's target is snapshotted when the failure is recorded, so a
later redrive can see whether what the failed work left behind is still
there. Planning a redrive takes a live snapshot through a read-only
connection that never creates the database or setright's tables in it. Both go
through the target's own `schema_snapshot` (the dialect's catalog queries in
`setright.db`), so a target on any database the runner can open gets them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from setright.config import TargetConfig
from setright.errors import SetrightError
from setright.runner.targets import Target, open_target


def failure_time_snapshot(target: Target | None) -> dict[str, Any] | None:
    """The schema of the target the runner holds, or None when it cannot be read.

    Recording a failure must never fail because the snapshot did: without one,
    a redrive plan warns "no failure-time snapshot" instead of comparing.
    """
    if target is None:
        return None
    try:
        return target.schema_snapshot()
    except Exception:  # noqa: BLE001 - any driver or catalog error: record no snapshot
        return None


@dataclass(frozen=True)
class LiveSnapshot:
    """A target's schema now, or why it could not be read (`error`)."""

    schema: dict[str, Any] | None
    error: str | None = None


def live_snapshot(config: TargetConfig | None, name: str) -> LiveSnapshot:
    """The target's schema as it is now, read-only; never creates or writes anything."""
    if config is None:
        return LiveSnapshot(None, f"target {name} is not configured in setright.yaml")
    try:
        target = open_target(config, create=False, readonly=True)
    except SetrightError as exc:
        return LiveSnapshot(None, exc.message)
    try:
        return LiveSnapshot(target.schema_snapshot())
    except SetrightError as exc:
        return LiveSnapshot(None, exc.message)
    finally:
        target.close()
