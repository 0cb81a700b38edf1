"""`setright run` for one target, in five steps: reap, validate, resume or plan, execute, settle.

Holding the target lock (= the lease): reap lost applies, validate checksums,
resume a `failed_retryable` apply or refuse a blocked target or plan a new
apply, then execute it, retrying within this invocation until the budget is
spent. Statements run through `runner/tasks.py`; every store write goes
through `ApplyRecorder` (one fenced transaction each).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from setright.config import Config
from setright.errors import LeaseLost, SetrightError
from setright.ids import new_id
from setright.runner.ctrl_c import StatementInterrupts
from setright.runner.fresh_plan import (FreshPlan, find_drift, fresh_plan, moved_changes,
                                        resume_drift, shown_path, task_specs)
from setright.runner.lease import Lease, LeaseKeeper
from setright.runner.model import Change
from setright.runner.options import RunOptions
from setright.runner.reap import reap_lost_applies, settle_apply
from setright.runner.records import ApplyRecorder, plan_summary
from setright.runner.report import NullObserver, ReapReport, RunObserver, TargetOutcome
from setright.runner.targets import Target, TargetBusy, open_target, target_exists, target_url
from setright.runner.tasks import TaskRunner
from setright.store.applies import (
    ApplyRow,
    active_apply,
    find_apply,
    get_apply,
    insert_apply,
    operation_progress,
    tasks_of,
)
from setright.store.connection import Store
from setright.store.schema import quote
from setright.store.issues import blocking_issues
from setright.store.locks import Locker, LockHeld
from setright.store.states import DONE_STATES, ApplyState, TaskState
from setright.store.transitions import Provenance


class TargetRefused(SetrightError):
    """`run` will not touch this target; `status` says why (blocked, drift, error)."""

    def __init__(self, status: str, message: str, details: list[str] | None = None) -> None:
        super().__init__(message, details)
        self.status = status


def run_targets(store: Store, config: Config, changes: dict[str, list[Change]],
                names: Sequence[str], *, actor: str, options: RunOptions | None = None,
                observer: RunObserver | None = None) -> list[TargetOutcome]:
    """Run each named target in turn; one target's failure never stops the next."""
    return [run_target(store, config, name, changes.get(name, []), actor=actor,
                       options=options, observer=observer) for name in names]


def run_target(store: Store, config: Config, name: str, changes: Sequence[Change], *,
               actor: str, options: RunOptions | None = None,
               observer: RunObserver | None = None) -> TargetOutcome:
    options = options or RunOptions()
    observer = observer or NullObserver()
    observer.target_started(name)
    locker = Locker(store, ttl=config.lock_ttl)
    info = json.dumps({"target": name, "command": "setright run"})
    try:
        lock, _ = locker.acquire(f"target:{name}", "run", info=info, timeout=options.lock_timeout)
    except LockHeld as exc:
        return TargetOutcome(name, "locked", error=exc.message, details=exc.details)
    run = _TargetRun(store, config, name, changes, Lease(store, locker, lock), actor, options,
                     observer)
    release = True
    try:
        return run.run()
    except LeaseLost as exc:
        return run.outcome("lease-lost", error=exc.message, details=[
            *exc.details, "the apply is left to whoever took the target lock; the next run"
            " reaps it if it is still unfinished"])
    except TargetRefused as exc:
        return run.outcome(exc.status, error=exc.message, details=exc.details)
    except SetrightError as exc:
        release = run.abandon(f"runner stopped: {exc.message}")
        return run.outcome("error", error=exc.message, details=exc.details)
    except BaseException as exc:
        release = run.abandon(f"runner interrupted: {type(exc).__name__}")
        raise
    finally:
        run.close()
        if release:
            locker.release_quietly(lock)


class _TargetRun:
    """State of one target's run: its lease, target connection and apply."""

    def __init__(self, store: Store, config: Config, name: str, changes: Sequence[Change],
                 lease: Lease, actor: str, options: RunOptions, observer: RunObserver) -> None:
        self.store = store
        self.config = config
        self.name = name
        self.changes = [c for c in changes if c.target == name]
        self.by_id = {c.id: c for c in self.changes}
        self.lease = lease
        self.actor = actor
        self.options = options
        self.observer = observer
        self.target: Target | None = None
        self.keeper: LeaseKeeper | None = None
        self.ctrl_c = StatementInterrupts(self._interrupt)
        self.apply_id: str | None = None
        self.reaped: list[ReapReport] = []

    # -- the five steps ------------------------------------------------------

    def run(self) -> TargetOutcome:
        target = self._open_target()
        self.store.refresh()
        # 1. reap
        self.reaped = reap_lost_applies(self.store, target, self.lease, actor=self.actor,
                                        on_reaped=lambda r: self.observer.reaped(self.name, r))
        # 2. validate
        conn = self.store.conn
        drift = find_drift(conn, self.changes, self.name, root=self.config.root)
        if drift:
            raise TargetRefused("drift", f"target {self.name}: {len(drift)} applied change "
                                "file(s) changed since they were applied", [
                                    *(d.describe() for d in drift),
                                    "restore the file: an applied change must not be edited; "
                                    "add a new change instead"])
        moved = moved_changes(conn, self.changes, self.name, self.config.targets)
        if moved:
            raise TargetRefused("drift", f"target {self.name}: {len(moved)} change file(s) "
                                "in its folder were run on another target", [
                                    *(f"{shown_path(c.source_file, self.config.root)}: change "
                                      f"{c.id} is recorded on target {t}" for c, t in moved),
                                    "a change id runs on one target: move the file back, or "
                                    "give the change a new id"])
        # 3. resume, refuse or plan
        active = active_apply(conn, self.name)
        if active is not None:
            if active.state != ApplyState.FAILED_RETRYABLE:  # pragma: no cover - reaped above
                raise TargetRefused("error", f"apply {active.id} is {active.state}")
            self._check_resumable(active)
            return self._execute(active, resumed=True)
        issues = blocking_issues(conn, self.store.now_ms(), self.name,
                                 lock_table=self.config.flamingock_lock_table)
        if issues:
            raise TargetRefused("blocked", f"target {self.name} is blocked by {len(issues)} "
                                f"issue{'s' if len(issues) != 1 else ''}", [
                                    *(f"{v.facts.change_id}: {v.facts.state} ({v.rule.meaning})"
                                      for v in issues),
                                    "see 'setright issue list'; resolve with a resolution file,"
                                    " 'setright audit fix', 'setright redrive' or"
                                    " 'setright applies cancel'"])
        plan = fresh_plan(conn, self.changes, self.name, root=self.config.root)
        if not plan.changes:
            return self.outcome("up-to-date")
        # 4. and 5. execute, retrying until the budget is spent
        return self._execute(self._create_apply(plan), resumed=False)

    def _open_target(self) -> Target:
        spec = self.config.targets[self.name]
        url = target_url(spec)
        if (url is not None and url.is_sqlite and url.path is not None
                and self.store.url.path is not None
                and url.path.resolve() == self.store.url.path.resolve()):
            raise TargetRefused("error", f"target {self.name} is the audit store itself "
                                f"({url.path})", ["point the target at its own database file"])
        if not target_exists(spec):
            where = url.where if url is not None else spec.url
            applied = self.store.conn.execute(
                "SELECT count(*) FROM setright_change_state WHERE target_system_id = ?"
                f" AND state IN ({', '.join('?' for _ in DONE_STATES)})",
                (self.name, *sorted(DONE_STATES))).fetchone()[0]
            if applied:
                written = f"at {spec.url_at}" if spec.url_at else "in setright.yaml"
                raise TargetRefused("error", f"target {self.name}: database {where} does "
                                    f"not exist, but {applied} change(s) are recorded as "
                                    "applied to it",
                                    [f"check targets.{self.name}.url {written}"])
        if self.options.keep_lease_alive:
            # from before connecting: reaching a server target may take a while
            self.keeper = LeaseKeeper(self.lease, self.store.url, self.store.audit_table,
                                      self.store.clock, on_lost=self._interrupt).start()
        self.target = open_target(spec, create=True)
        self.ctrl_c.start()
        try:
            # before the fence and the reaping: a runner of another store, or one paused
            # past its lease, may still be between a statement and its marker
            self.target.hold_session_lock(self.options.lock_timeout)
        except TargetBusy as exc:
            raise TargetRefused("locked", exc.message, exc.details) from None
        self._check_same_store(self.target)
        self.target.claim(self.lease.token, self.lease.lock.owner, self.store.now_iso())
        return self.target

    def _check_same_store(self, target: Target) -> None:
        """Refuse a target whose newest marker is of an apply this store never recorded: it
        was run from another store (a mistyped `store.url` is a new, empty one), and running
        from this one would run every change there again."""
        latest = target.latest_apply_id()
        if latest is None or find_apply(self.store.conn, latest) is not None:
            return
        raise TargetRefused("error", *_run_elsewhere(self.name, latest, self.store.where))

    def _interrupt(self) -> None:
        """The lease is lost, or Ctrl-C: abort the statement running in the target, if any."""
        if self.target is not None:
            self.target.interrupt()

    def _check_resumable(self, apply: ApplyRow) -> None:
        """A resumed apply runs what was planned: every unfinished task's file must be unchanged."""
        drift = resume_drift(self.store.conn, apply.id, self.changes, root=self.config.root)
        if drift:
            raise TargetRefused("drift", f"apply {apply.id} cannot resume: its changes differ "
                                "from the files", [*(d.describe() for d in drift),
                                                   "restore the files, or cancel the apply "
                                                   "with 'setright applies cancel'"])

    def _create_apply(self, plan: FreshPlan) -> ApplyRow:
        apply_id = new_id("ap", self.store.now_ms())
        max_attempts = self.options.max_attempts or self.config.max_attempts
        specs = task_specs(plan, self.changes)
        fingerprint = plan.fingerprint()
        prov = Provenance(actor=self.actor, source="runner")
        with self.store.write() as tx:
            self.lease.fence(tx)
            high_water = tx.execute(
                f"SELECT coalesce(max(id), 0) FROM {quote(self.store.audit_table)}").fetchone()[0]
            summary = plan_summary(self.name, fingerprint, int(high_water), len(specs),
                                   sum(len(t.operations) for t in specs))
            insert_apply(tx, apply_id=apply_id, target=self.name, tasks=specs,
                         max_attempts=max_attempts, caller=self.actor, plan_json=summary,
                         plan_fingerprint=fingerprint, at=self.store.now_iso(), prov=prov,
                         lease_owner=self.lease.lock.owner, lease_token=self.lease.token,
                         lease_expires_at=self.lease.expires_at)
        self.apply_id = apply_id
        self.lease.bind(apply_id)
        return get_apply(self.store.conn, apply_id)

    def _execute(self, apply: ApplyRow, *, resumed: bool) -> TargetOutcome:
        self.apply_id = apply.id
        assert self.target is not None
        target = self.target
        recorder = ApplyRecorder(self.store, self.lease, apply, actor=self.actor,
                                 root=self.config.root,
                                 snapshot=lambda: _failure_time_snapshot(target))
        tasks = TaskRunner(self.store, self.target, self.lease, recorder, self.options,
                           self.observer, self.ctrl_c)
        conn = self.store.conn
        while True:
            apply = recorder.start_apply()
            done, total = operation_progress(conn, apply.id)
            self.observer.apply_started(apply.id, apply.attempt, apply.max_attempts, done, total,
                                        resumed)
            failed = False
            todo = [t for t in tasks_of(conn, apply.id)
                    if t.state not in (TaskState.COMPLETED, TaskState.CANCELLED)]
            tasks.start_attempt()
            begun = None
            for index, task in enumerate(todo):
                change = self.by_id[task.change_id]
                self.observer.task_started(task.position, change.id, len(change.operations))
                if begun is None or begun.position != task.position:
                    begun = recorder.begin_task(task, change)
                if begun.cancelled is not None:
                    self.observer.task_finished(task.position, change.id, "cancelled", None,
                                                begun.cancelled)
                    begun = None
                    continue
                following = todo[index + 1] if index + 1 < len(todo) else None
                next_task = (following, self.by_id[following.change_id]) if following else None
                # the task as read above: the runner needs its position and change only
                if not tasks.run(task, change, next_task):
                    failed = True
                    break
                begun = tasks.begun
            if not failed:
                recorder.finish_apply(ApplyState.COMPLETED)
            apply = recorder.apply
            self.observer.apply_finished(apply.id, apply.state, apply.error)
            if apply.state != ApplyState.FAILED_RETRYABLE:
                status = "completed" if apply.state == ApplyState.COMPLETED else "failed"
                return self.outcome(status)
            resumed = True

    # -- leaving -------------------------------------------------------------

    def abandon(self, reason: str) -> bool:
        """After an unexpected error: settle our own apply from the markers, as a reaper would.

        Returns whether the lock may be released; if settling fails too, the
        lease is left to expire and the next run reaps the apply.
        """
        if self.apply_id is None or self.target is None:
            return True
        try:
            apply = find_apply(self.store.conn, self.apply_id)
            if apply is None or apply.state not in (ApplyState.PENDING, ApplyState.RUNNING):
                return True
            report = settle_apply(self.store, self.target, self.lease, apply, actor=self.actor,
                                  reason=reason)
            self.observer.reaped(self.name, report)
            return True
        except BaseException:  # noqa: BLE001 - already failing; the lease expiry is the fallback
            return False

    def close(self) -> None:
        self.ctrl_c.stop()
        if self.keeper is not None:
            self.keeper.stop()
        if self.target is not None:
            self.target.close()

    def outcome(self, status: str, *, error: str | None = None,
                details: list[str] | None = None) -> TargetOutcome:
        result = TargetOutcome(self.name, status, error=error, details=list(details or []),
                               reaped=self.reaped)
        apply = find_apply(self.store.conn, self.apply_id) if self.apply_id else None
        if apply is None:
            return result
        result.apply_id, result.apply_state = apply.id, apply.state
        result.attempts, result.max_attempts = apply.attempt, apply.max_attempts
        for task in tasks_of(self.store.conn, apply.id):
            result.tasks[task.state] = result.tasks.get(task.state, 0) + 1
            if task.state in (TaskState.FAILED, TaskState.FAILED_RETRYABLE):
                result.failed_change = task.change_id
        result.operations_done, result.operations_total = operation_progress(
            self.store.conn, apply.id)
        if result.error is None and apply.state != ApplyState.COMPLETED:
            result.error = apply.error
        return result


def _run_elsewhere(target: str, latest: str, store: str) -> tuple[str, list[str]]:
    return (f"target {target} was run from another audit store: its newest marker is of "
            f"apply {latest}, which {store} has never recorded", [
                "check store.url (or SETRIGHT_STORE, --store): a mistyped store is a new, "
                "empty one, and a run from it would run every change again"])


def refuse_targets_run_elsewhere(config: Config, names: Sequence[str], store: str) -> None:
    """Before a run creates its store: a target with markers was run from another store,
    so this one would be a mistyped, new one; refused before it is made. A target that
    cannot be read now is left to its own run, which reports it."""
    from setright.runner.targets import TargetError

    for name in names:
        spec = config.targets[name]
        try:
            if not target_exists(spec):
                continue
            target = open_target(spec, create=False, readonly=True)
        except TargetError:
            continue
        try:
            latest = target.latest_apply_id()
        finally:
            target.close()
        if latest is not None:
            message, details = _run_elsewhere(name, latest, store)
            raise SetrightError(message, [*details, f"{store} was not created"])


def _failure_time_snapshot(target: Target) -> dict[str, Any] | None:
    """The target's schema when its apply fails; the snapshot code loads only then."""
    from setright.runner.snapshots import failure_time_snapshot

    return failure_time_snapshot(target)
