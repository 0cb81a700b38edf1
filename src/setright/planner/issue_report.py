"""One issue, explained: what `issue get` shows, and the resolution file it suggests.

The diagnosis comes from the store (`store/diagnosis.py`); a failed apply's
target is also read, read-only, for what changed in its schema since the
failure (what a redrive would be checked against). The suggested file's name
is free in the resolutions folder when the report is made; `write_suggested`
still refuses to overwrite a file that appeared since.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from setright.config import Config
from setright.errors import SetrightError, UnknownId
from setright.store import Store
from setright.store.issue_fields import MarkerReader

if TYPE_CHECKING:   # `issue list` imports this module for `marker_reader` alone
    from setright.db.settled import LockSession
    from setright.planner.drift import DriftReport
    from setright.store.diagnosis import Diagnosis
    from setright.store.issue_list import IssueSummary


@dataclass(frozen=True)
class IssueReport:
    diagnosis: Diagnosis
    issues: list[IssueSummary]        # every open issue, in `issue list` order
    drift: DriftReport | None         # only for a change whose apply failed
    file_text: str                    # the suggested resolution file
    file_name: str                    # a name free in the resolutions folder
    #: a STARTED change's server session still holding its runner's lock: still running
    session: LockSession | None = None

    @property
    def others(self) -> int:
        """Open issues besides this one."""
        return sum(d.change_id != self.diagnosis.change_id for d in self.issues)


def issue_report(store: Store, config: Config, change_id: str | None
                 ) -> IssueReport | Diagnosis | None:
    """The report of `change_id`, or of the first open issue when it is None.

    None: no change named, and no open issue. A `Diagnosis` alone: the named change
    is not an issue (its state says why). Raises `UnknownId` for a change the store
    has never seen.
    """
    from setright.resolutions.template import (
        free_file_name,
        resolution_file_name,
        resolution_yaml,
    )
    from setright.store.diagnosis import diagnose_change
    from setright.store.issue_list import list_issues

    now = store.now_ms()
    markers = marker_reader(config)
    issues = list_issues(store.conn, now_ms=now, markers=markers,
                         lock_table=config.flamingock_lock_table)
    if change_id is None and not issues:
        return None
    chosen = diagnose_change(store.conn, store.audit_table,
                             issues[0].change_id if change_id is None else change_id,
                             now_ms=now, redrive_max_age=config.redrive_max_age,
                             markers=markers, lock_table=config.flamingock_lock_table)
    if chosen is None:
        raise UnknownId(f"no change {change_id!r} in the audit store")
    if not chosen.is_issue:
        return chosen
    name = free_file_name(resolution_file_name(chosen, now),
                          lambda n: (config.resolutions / n).exists())
    return IssueReport(chosen, issues, _drift(store, config, chosen),
                       resolution_yaml(chosen, require_ticket=config.require_ticket), name,
                       _runner_session(config, chosen))


def write_suggested(report: IssueReport, folder: Path) -> Path:
    """Create the suggested file in `folder`; never overwrite one, even in a race."""
    path = folder / report.file_name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # a file in its place: refused
    except OSError as exc:
        raise SetrightError(f"cannot create the folder {path.parent}: "
                            f"{exc.strerror or exc}") from None
    try:
        with path.open("x", encoding="utf-8") as out:
            out.write(report.file_text)
    except FileExistsError:
        raise SetrightError(f"{path} already exists; not overwriting it") from None
    except OSError as exc:
        raise SetrightError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def marker_reader(config: Config) -> MarkerReader:
    """The targets' marker reader, imported only when a task is still running (rarely)."""
    reader: MarkerReader | None = None

    def read(target: str, apply_id: str, change_id: str) -> Collection[int] | None:
        nonlocal reader
        if reader is None:
            from setright.runner.reap import target_marker_reader

            reader = target_marker_reader(config.targets)
        return reader(target, apply_id, change_id)

    return read


def _runner_session(config: Config, chosen: Diagnosis) -> LockSession | None:
    """For a STARTED change on a server: the session that still holds its runner's lock (a
    runner killed mid-statement leaves it running the statement). An unreachable target
    says nothing here; a mark of the change checks again, and refuses then."""
    from setright.runner.targets import TargetError, session_holder

    spec = config.targets.get(chosen.target or "")
    if chosen.state != "STARTED" or spec is None:
        return None
    try:
        return session_holder(spec)
    except TargetError:
        return None


def _drift(store: Store, config: Config, chosen: Diagnosis) -> DriftReport | None:
    """A failed apply's target schema now against its failure time (what a redrive checks)."""
    from setright.planner.drift import drift_since_failure
    from setright.runner.snapshots import live_snapshot

    if not (chosen.apply_id and chosen.apply_state == "failed" and chosen.target):
        return None
    live = live_snapshot(config.targets.get(chosen.target), chosen.target)
    return drift_since_failure(store.conn, chosen.apply_id, chosen.target, live)
