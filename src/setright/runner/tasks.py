"""Executing one task against the target, with its markers.

* transactional: every operation and its marker in one target transaction;
  COMMIT → APPLIED, an error → ROLLBACK → FAILED (TX_SEPARATE_WITH_MARKER).
* non-transactional: each operation commits together with its marker; an
  error at operation k → FAILED (NON_TX, the trace names k and the
  statement), then the rollback script if any → ROLLED_BACK (operations back
  to pending, markers removed in the rollback's own transaction) or
  ROLLBACK_FAILED.

An operation the target refuses inside a transaction (PostgreSQL's
`CREATE INDEX CONCURRENTLY`) runs on its own and its marker follows in a
transaction of its own. The lease is checked before every statement; the
fault hook fires right after a commit and before the store records it, or
between a statement and its marker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from setright.runner.ctrl_c import StatementInterrupts
from setright.runner.lease import Lease
from setright.runner.model import Change, Operation
from setright.runner.options import RunOptions
from setright.runner.records import ApplyRecorder, Begun, failure_outcome, is_retryable
from setright.runner.report import RunObserver
from setright.runner.targets import StatementFailed, Target
from setright.store.applies import TaskRow, operation_states, operations_of
from setright.store.connection import Store
from setright.store.issue_fields import LEFT_BEHIND
from setright.store.states import ChangeState, OperationState, TaskState


def error_trace(change: Change, op: Operation, message: str, *, rolled_back: bool,
                left_behind: str | None = None) -> str:
    """What the audit log's `error_trace` says: which operation, which statement, what
    error, and what a failed statement outside a transaction left in the target."""
    lines = [f"operation {op.seq} of {len(change.operations)} failed: {message}",
             f"statement: {op.statement}"]
    if left_behind:
        lines.append(LEFT_BEHIND + left_behind)
    if rolled_back:
        lines.append("the target transaction was rolled back: no operation of this change "
                     "took effect")
    return "\n".join(lines)


def rollback_scripts(change: Change, completed: set[int]) -> list[str] | None:
    """The scripts that undo the completed operations, or None when no exact undo exists.

    A whole-change `rollback` undoes everything. In the steps form, the
    completed steps' own rollbacks run in reverse order; a completed step
    without one means the change cannot be rolled back exactly.
    """
    if change.rollback is not None:
        return [change.rollback]
    if not change.has_rollback:
        return None
    done = [op for op in change.operations if op.seq in completed]
    if any(op.rollback is None for op in done):
        return None
    return [op.rollback for op in reversed(done) if op.rollback is not None]


def _done(ops: Sequence[Operation], states: Mapping[int, str]) -> dict[int, str | None]:
    """seq → the state each committed operation had when the attempt began."""
    return {op.seq: states.get(op.seq) for op in ops}


class TaskRunner:
    """Runs started tasks of one apply; returns False when a task failed (the apply stops)."""

    def __init__(self, store: Store, target: Target, lease: Lease, recorder: ApplyRecorder,
                 options: RunOptions, observer: RunObserver,
                 ctrl_c: StatementInterrupts) -> None:
        self.store = store
        self.target = target
        self.lease = lease
        self.recorder = recorder
        self.fault = options.fault
        self.after_commit = options.after_commit
        self.observer = observer
        #: around every statement sent to the target: Ctrl-C stops it in the database
        self.statement = ctrl_c.statement
        self.begun: Begun | None = None          # the next task, begun by the last success
        self.next_task: tuple[TaskRow, Change] | None = None
        #: change id → {seq: state} as the attempt began (a task's operations move only
        #: while it runs, and each task runs once per attempt)
        self.states: dict[str, dict[int, str]] = {}

    def start_attempt(self) -> None:
        """Read every operation's state once per attempt, not once per task."""
        self.states = operation_states(self.store.conn, self.apply_id)

    @property
    def apply_id(self) -> str:
        return self.recorder.apply_id

    def run(self, task: TaskRow, change: Change,
            next_task: tuple[TaskRow, Change] | None = None) -> bool:
        """Run a started task; on success `next_task` is begun in the same store commit
        (its outcome left in `self.begun`)."""
        self.begun = None
        self.next_task = next_task
        states = self.states.get(change.id, {})
        todo = [op for op in change.operations if states.get(op.seq) != OperationState.COMPLETED]
        if change.transactional:
            return self._transactional(task, change, todo, states)
        return self._non_transactional(task, change, todo, states)

    def _transactional(self, task: TaskRow, change: Change, todo: Sequence[Operation],
                       states: Mapping[int, str]) -> bool:
        started = self.lease.check()  # the time the lease was judged at: the start
        failing = todo[0] if todo else None
        try:
            with self.target.transaction(self.lease.token) as ttx:
                for index, op in enumerate(todo):
                    failing = op
                    if index:
                        self.lease.check()  # the first statement was checked just above
                    self.observer.operation_started(change.id, op.seq, len(change.operations))
                    with self.statement():
                        ttx.execute(op.statement)
                    self._before_marker(change.id, op.seq)
                    ttx.add_marker(self.apply_id, change.id, op.seq, self.store.now_iso())
        except StatementFailed as exc:
            assert failing is not None
            outcome = failure_outcome(retryable=is_retryable(change, rolled_back=False),
                                      attempt=self.recorder.apply.attempt,
                                      max_attempts=self.recorder.apply.max_attempts)
            trace = error_trace(change, failing, exc.message, rolled_back=True)
            self.recorder.operation_failed(task, change, failing.seq, exc.message, trace,
                                           self._millis(started), outcome)
            self._finished(task, change, outcome.task, ChangeState.FAILED,
                           f"operation {failing.seq}: {exc.message}")
            return False
        if todo:
            self._committed(change.id, todo[0].seq, todo[-1].seq)
        self.begun = self.recorder.task_completed(task, change, _done(todo, states),
                                                  self._millis(started), self.next_task)
        self._finished(task, change, TaskState.COMPLETED, ChangeState.APPLIED, None)
        return True

    def _non_transactional(self, task: TaskRow, change: Change, todo: Sequence[Operation],
                           states: Mapping[int, str]) -> bool:
        started = self.store.now_ms()
        for index, op in enumerate(todo):
            self.lease.check()
            self.observer.operation_started(change.id, op.seq, len(change.operations))
            try:
                self._commit_operation(change, op)
            except StatementFailed as exc:
                self._failed_non_transactional(task, change, op, exc.message, started,
                                               self.target.failure_note(op.statement))
                return False
            self._committed(change.id, op.seq, op.seq)
            if index == len(todo) - 1:
                self.begun = self.recorder.task_completed(task, change, _done([op], states),
                                                          self._millis(started), self.next_task)
            else:
                self.recorder.operations_completed(change.id, _done([op], states))
        if not todo:
            self.begun = self.recorder.task_completed(task, change, {}, self._millis(started),
                                                      self.next_task)
        self._finished(task, change, TaskState.COMPLETED, ChangeState.APPLIED, None)
        return True

    def _failed_non_transactional(self, task: TaskRow, change: Change, op: Operation,
                                  message: str, started: int,
                                  left_behind: str | None = None) -> None:
        apply = self.recorder.apply
        completed = {o.seq for o in operations_of(self.store.conn, self.apply_id, change.id)
                     if o.state == OperationState.COMPLETED}
        scripts = rollback_scripts(change, completed)
        trace = error_trace(change, op, message, rolled_back=False, left_behind=left_behind)
        if left_behind:
            message = f"{message}; {left_behind}"
        if scripts is None:
            outcome = failure_outcome(retryable=is_retryable(change, rolled_back=False),
                                      attempt=apply.attempt, max_attempts=apply.max_attempts)
            self.recorder.operation_failed(task, change, op.seq, message, trace,
                                           self._millis(started), outcome)
            self._finished(task, change, outcome.task, ChangeState.FAILED,
                           f"operation {op.seq}: {message}")
            return
        self.recorder.operation_failed(task, change, op.seq, message, trace,
                                       self._millis(started), None)
        rollback_error: str | None = None
        try:
            self.lease.check()
            with self.target.transaction(self.lease.token) as ttx:
                for script in scripts:
                    with self.statement():
                        ttx.execute(script)
                ttx.delete_markers(self.apply_id, change.id)
        except StatementFailed as exc:
            rollback_error = exc.message
        outcome = failure_outcome(
            retryable=is_retryable(change, rolled_back=rollback_error is None),
            attempt=apply.attempt, max_attempts=apply.max_attempts)
        self.recorder.rollback_finished(task, change, failed_seq=op.seq, failure=message,
                                        error=rollback_error,
                                        outcome=outcome, millis=self._millis(started))
        if rollback_error is None:
            self._finished(task, change, outcome.task, ChangeState.ROLLED_BACK,
                           f"operation {op.seq}: {message}; rolled back")
        else:
            self._finished(task, change, outcome.task, ChangeState.ROLLBACK_FAILED,
                           f"operation {op.seq}: {message}; rollback failed: {rollback_error}")

    # -- helpers ---------------------------------------------------------------

    def _commit_operation(self, change: Change, op: Operation) -> None:
        """One operation and its marker: in one fenced transaction, or — for a statement
        the target refuses inside a transaction — the statement on its own, then the
        marker (the session lock keeps other runners out of the gap between them)."""
        token = self.lease.token
        if self.target.runs_alone(op.statement):
            with self.statement():
                self.target.execute_alone(op.statement, token)
            self._before_marker(change.id, op.seq)
            try:
                with self.target.transaction(token) as ttx:
                    ttx.add_marker(self.apply_id, change.id, op.seq, self.store.now_iso())
            except StatementFailed as exc:
                raise StatementFailed(f"the statement committed, but its marker was not "
                                      f"written: {exc.message}") from None
            return
        with self.target.transaction(token) as ttx:
            with self.statement():
                ttx.execute(op.statement)
            self._before_marker(change.id, op.seq)
            ttx.add_marker(self.apply_id, change.id, op.seq, self.store.now_iso())

    def _before_marker(self, change_id: str, seq: int) -> None:
        """The statement ran, its marker is not written yet: the fault hook's other moment."""
        if self.fault is not None:
            self.fault.before_marker(change_id, seq)

    def _committed(self, change_id: str, first: int, last: int) -> None:
        """Right after a target COMMIT, before the store records it: the fault hook's moment."""
        if self.after_commit is not None:
            self.after_commit(change_id, first, last)
        if self.fault is not None:
            self.fault.after_commit(change_id, first, last)
        self.observer.operations_committed(change_id, last - first + 1)

    def _finished(self, task: TaskRow, change: Change, state: TaskState,
                  audit_state: ChangeState, detail: str | None) -> None:
        self.observer.task_finished(task.position, change.id, str(state), str(audit_state),
                                    detail)

    def _millis(self, started: int) -> int:
        return max(0, self.store.now_ms() - started)
