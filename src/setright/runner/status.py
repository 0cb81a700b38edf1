"""`setright status`: per target, what is pending, what last ran, what blocks it (pure reads).

Built from the same pieces the runner decides with (`fresh_plan`,
`find_drift`, `blocking_issues`, the target lock), so status never disagrees
with what `run` would do next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from setright.config import Config, TargetConfig
from setright.redact import mask_password
from setright.runner.fresh_plan import find_drift, fresh_plan, resume_drift
from setright.runner.model import Change
from setright.store.applies import latest_apply
from setright.store.connection import Store
from setright.store.issues import blocking_issues
from setright.store.locks import Locker
from setright.store.states import ApplyState


@dataclass
class TargetStatus:
    target: str
    url: str
    pending: int
    pending_changes: list[str]     # not yet started (or failed, rolled back: they run again)
    last_apply: dict[str, Any] | None
    running_changes: list[str] = field(default_factory=list)  # STARTED under a live runner
    issues: list[dict[str, Any]] = field(default_factory=list)
    lock: dict[str, Any] | None = None
    drift: list[dict[str, str]] = field(default_factory=list)
    #: the unfinished tasks of a failed_retryable apply whose files changed since it was
    #: planned: `run` refuses to resume it
    resume_drift: list[dict[str, str | None]] = field(default_factory=list)

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
        resumable = apply is not None and apply.state == ApplyState.FAILED_RETRYABLE
        holder = locker.holder(f"target:{name}")
        issues = blocking_issues(conn, now, name, lock_table=config.flamingock_lock_table)
        # STARTED and not an issue = in flight under a live lease; STARTED and an issue is
        # listed as the issue. Neither is "pending".
        started = [c.change_id for c in plan.changes if c.current_state == "STARTED"]
        stuck = {v.facts.change_id for v in issues}
        pending = [c.change_id for c in plan.changes if c.current_state != "STARTED"]
        out.append(TargetStatus(
            target=name,
            url=_shown(config.targets[name]),
            pending=len(pending),
            pending_changes=pending,
            running_changes=[c for c in started if c not in stuck],
            last_apply=None if apply is None else {
                "id": apply.id, "state": apply.state, "attempt": apply.attempt,
                "max_attempts": apply.max_attempts, "created_at": apply.created_at,
                "completed_at": apply.completed_at, "error": apply.error},
            issues=[{"change_id": v.facts.change_id, "state": v.facts.state,
                     "reason": v.rule.name, "meaning": v.rule.meaning}
                    for v in issues],
            lock=None if holder is None else {
                "lock_id": holder.lock_id, "owner": holder.owner,
                "operation": holder.operation, "acquired_at": holder.acquired_at,
                "expires_at": holder.expires_at},
            drift=[d.as_dict() for d in find_drift(conn, mine, name, root=config.root)],
            resume_drift=[d.as_dict() for d in resume_drift(conn, apply.id, mine,
                                                           root=config.root)]
            if apply is not None and resumable else [],
        ))
    return out


def _shown(target: TargetConfig) -> str:
    """The target's URL as configured, its password masked."""
    return target.db_url.shown if target.db_url is not None else mask_password(target.url)
