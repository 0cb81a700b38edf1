"""`setright status`: per target, what is pending, what last ran, what blocks it (pure reads).

Built from the same pieces the runner decides with (`fresh_plan`,
`find_drift`, `blocking_issues`, the target lock), so status never disagrees
with what `run` would do next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from setright.config import Config
from setright.runner.fresh_plan import find_drift, fresh_plan
from setright.runner.model import Change
from setright.store.applies import latest_apply
from setright.store.connection import Store
from setright.store.issues import blocking_issues
from setright.store.locks import Locker


@dataclass
class TargetStatus:
    target: str
    url: str
    pending: int
    pending_changes: list[str]
    last_apply: dict[str, Any] | None
    issues: list[dict[str, Any]] = field(default_factory=list)
    lock: dict[str, Any] | None = None
    drift: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def target_statuses(store: Store, config: Config, changes: dict[str, list[Change]],
                    names: Sequence[str] | None = None) -> list[TargetStatus]:
    """One `TargetStatus` per target (config order); the caller has folded the audit log."""
    conn = store.conn
    now = store.now_ms()
    locker = Locker(store, ttl=config.lock_ttl)
    out = []
    for name in names or list(config.targets):
        mine = changes.get(name, [])
        plan = fresh_plan(conn, mine, name, root=config.root)
        apply = latest_apply(conn, name)
        holder = locker.holder(f"target:{name}")
        out.append(TargetStatus(
            target=name,
            url=config.targets[name].url,
            pending=len(plan.changes),
            pending_changes=[c.change_id for c in plan.changes],
            last_apply=None if apply is None else {
                "id": apply.id, "state": apply.state, "attempt": apply.attempt,
                "max_attempts": apply.max_attempts, "created_at": apply.created_at,
                "completed_at": apply.completed_at, "error": apply.error},
            issues=[{"change_id": v.facts.change_id, "state": v.facts.state,
                     "reason": v.rule.name, "meaning": v.rule.meaning}
                    for v in blocking_issues(conn, now, name)],
            lock=None if holder is None else {
                "lock_id": holder.lock_id, "owner": holder.owner,
                "operation": holder.operation, "acquired_at": holder.acquired_at,
                "expires_at": holder.expires_at},
            drift=[d.as_dict() for d in find_drift(conn, mine, name, root=config.root)],
        ))
    return out
