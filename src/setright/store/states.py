"""Every state setright knows, and which moves between them are legal.

Keeping the machines as data means a transition is checked in one place and
tests can enumerate the rules.
"""

from __future__ import annotations

from enum import StrEnum


class ChangeState(StrEnum):
    """Audit-log states, in Flamingock's priority order (1 lowest … 7 highest)."""

    STARTED = "STARTED"
    APPLIED = "APPLIED"
    FAILED = "FAILED"
    ROLLED_BACK = "ROLLED_BACK"
    ROLLBACK_FAILED = "ROLLBACK_FAILED"
    MANUAL_MARKED_AS_APPLIED = "MANUAL_MARKED_AS_APPLIED"
    MANUAL_MARKED_AS_ROLLED_BACK = "MANUAL_MARKED_AS_ROLLED_BACK"

    @property
    def priority(self) -> int:
        return _PRIORITY[self]


_PRIORITY = {state: index + 1 for index, state in enumerate(ChangeState)}

DONE_STATES = frozenset({ChangeState.APPLIED, ChangeState.MANUAL_MARKED_AS_APPLIED})
ROLLED_BACK_STATES = frozenset({ChangeState.ROLLED_BACK, ChangeState.MANUAL_MARKED_AS_ROLLED_BACK})
SETTLED_STATES = DONE_STATES | ROLLED_BACK_STATES

#: What `audit fix -r` / a resolution's `resolution:` turns into in the audit log.
MANUAL_MARK = {
    "APPLIED": ChangeState.MANUAL_MARKED_AS_APPLIED,
    "ROLLED_BACK": ChangeState.MANUAL_MARKED_AS_ROLLED_BACK,
}


def priority_of(state: str | None) -> int:
    """Priority of a state as stored; unknown text sorts below every known state."""
    try:
        return ChangeState(state).priority
    except ValueError:
        return 0


class TxStrategy(StrEnum):
    NON_TX = "NON_TX"
    TX_SHARED = "TX_SHARED"
    TX_SEPARATE_WITH_MARKER = "TX_SEPARATE_WITH_MARKER"
    TX_SEPARATE_NO_MARKER = "TX_SEPARATE_NO_MARKER"


TRANSACTIONAL_STRATEGIES = frozenset(
    {TxStrategy.TX_SHARED, TxStrategy.TX_SEPARATE_WITH_MARKER, TxStrategy.TX_SEPARATE_NO_MARKER}
)


class Recovery(StrEnum):
    MANUAL_INTERVENTION = "MANUAL_INTERVENTION"
    ALWAYS_RETRY = "ALWAYS_RETRY"


class ApplyState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED_RETRYABLE = "failed_retryable"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_APPLY_STATES = frozenset({ApplyState.COMPLETED, ApplyState.FAILED, ApplyState.CANCELLED})
NON_TERMINAL_APPLY_STATES = frozenset(set(ApplyState) - TERMINAL_APPLY_STATES)

APPLY_TRANSITIONS: dict[ApplyState, frozenset[ApplyState]] = {
    ApplyState.PENDING: frozenset({ApplyState.RUNNING, ApplyState.FAILED, ApplyState.CANCELLED}),
    ApplyState.RUNNING: frozenset(
        {ApplyState.COMPLETED, ApplyState.FAILED_RETRYABLE, ApplyState.FAILED, ApplyState.CANCELLED}
    ),
    ApplyState.FAILED_RETRYABLE: frozenset(
        {ApplyState.RUNNING, ApplyState.FAILED, ApplyState.CANCELLED}
    ),
    # failed → failed_retryable only by a redrive; → cancelled by `applies cancel`.
    ApplyState.FAILED: frozenset({ApplyState.FAILED_RETRYABLE, ApplyState.CANCELLED}),
    ApplyState.COMPLETED: frozenset(),
    ApplyState.CANCELLED: frozenset(),
}


class TaskState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    FAILED_RETRYABLE = "failed_retryable"
    CANCELLED = "cancelled"


TASK_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    TaskState.PENDING: frozenset({TaskState.RUNNING, TaskState.CANCELLED, TaskState.FAILED}),
    TaskState.RUNNING: frozenset(
        {TaskState.COMPLETED, TaskState.FAILED, TaskState.FAILED_RETRYABLE, TaskState.CANCELLED}
    ),
    TaskState.FAILED_RETRYABLE: frozenset(
        {TaskState.RUNNING, TaskState.FAILED, TaskState.CANCELLED}
    ),
    TaskState.FAILED: frozenset({TaskState.FAILED_RETRYABLE, TaskState.CANCELLED}),
    TaskState.CANCELLED: frozenset({TaskState.FAILED_RETRYABLE}),
    TaskState.COMPLETED: frozenset(),
}


class OperationState(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    FAILED_RETRYABLE = "failed_retryable"


OPERATION_TRANSITIONS: dict[OperationState, frozenset[OperationState]] = {
    OperationState.PENDING: frozenset(
        {OperationState.COMPLETED, OperationState.FAILED, OperationState.FAILED_RETRYABLE}
    ),
    # A rollback that runs resets its task's operations to pending (their effects were undone).
    OperationState.COMPLETED: frozenset({OperationState.PENDING}),
    OperationState.FAILED: frozenset({OperationState.FAILED_RETRYABLE, OperationState.PENDING}),
    OperationState.FAILED_RETRYABLE: frozenset(
        {OperationState.COMPLETED, OperationState.FAILED, OperationState.PENDING}
    ),
}
