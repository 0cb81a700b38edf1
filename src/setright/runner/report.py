"""What a run tells its caller: progress callbacks while it works, an outcome per target after.

Core code never prints; the CLI turns these plain values into a progress bar,
task lines and the final summary (`render/run.py`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

#: Outcome statuses that count as success for the exit code.
OK_STATUSES = frozenset({"completed", "up-to-date"})


@dataclass(frozen=True)
class ReapReport:
    """A lost apply that this run settled from the target markers."""

    apply_id: str
    reason: str
    change_id: str | None          # the task that was in flight, if any
    settled: str | None            # what the markers said, in words
    audit_state: str | None        # the change's audit state after settling

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TargetOutcome:
    """How one target ended: the exit code and the summary are computed from these."""

    target: str
    status: str                    # completed | up-to-date | failed | blocked | drift | locked | lease-lost | error
    apply_id: str | None = None
    apply_state: str | None = None
    attempts: int = 0
    max_attempts: int = 0
    tasks: dict[str, int] = field(default_factory=dict)     # task state → count
    operations_done: int = 0
    operations_total: int = 0
    failed_change: str | None = None
    error: str | None = None
    details: list[str] = field(default_factory=list)
    reaped: list[ReapReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


class RunObserver(Protocol):
    """Progress as it happens; every method is optional to act on."""

    def target_started(self, target: str) -> None: ...
    def reaped(self, target: str, report: ReapReport) -> None: ...
    def apply_started(self, apply_id: str, attempt: int, max_attempts: int, done: int,
                      total: int, resumed: bool) -> None: ...
    def task_started(self, position: int, change_id: str, operations: int) -> None: ...
    def operation_started(self, change_id: str, seq: int, total: int) -> None: ...
    def operations_committed(self, change_id: str, count: int) -> None: ...
    def task_finished(self, position: int, change_id: str, state: str, audit_state: str | None,
                      detail: str | None) -> None: ...
    def apply_finished(self, apply_id: str, state: str, error: str | None) -> None: ...


class NullObserver:
    """Observes nothing (library callers and tests)."""

    def target_started(self, target: str) -> None:
        pass

    def reaped(self, target: str, report: ReapReport) -> None:
        pass

    def apply_started(self, apply_id: str, attempt: int, max_attempts: int, done: int,
                      total: int, resumed: bool) -> None:
        pass

    def task_started(self, position: int, change_id: str, operations: int) -> None:
        pass

    def operation_started(self, change_id: str, seq: int, total: int) -> None:
        """Operation `seq` of the change's `total` is about to be sent to the target."""

    def operations_committed(self, change_id: str, count: int) -> None:
        pass

    def task_finished(self, position: int, change_id: str, state: str, audit_state: str | None,
                      detail: str | None) -> None:
        pass

    def apply_finished(self, apply_id: str, state: str, error: str | None) -> None:
        pass
