"""Planning a whole project: resolution files + ledger + store + change files → a `Plan`.

The one entry point `plan` and `apply` share, so both read the same files,
apply the same checks and build the same actions.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from setright.config import Config
from setright.planner.build import build_plan, to_plan_entry
from setright.planner.entries import PlanEntry
from setright.planner.model import Plan
from setright.planner.context import RedriveContext
from setright.resolutions.model import ResolutionFile
from setright.store import Store

if TYPE_CHECKING:
    from setright.db import Connection
    from setright.runner.fresh_plan import FreshPlan
    from setright.runner.model import Change
    from setright.runner.snapshots import LiveSnapshot


def redrive_context(store: Store, config: Config, *, owner: str,
                    own_lock_ids: Collection[str] = (),
                    holders_before: Mapping[str, str | None] | None = None) -> RedriveContext:
    """Fresh plans, change files and live target schemas for redrive checks, each read
    once per target, lazily (a plan that redrives nothing opens no target)."""

    @cache
    def changes(target: str) -> tuple[Change, ...]:
        from setright.runner.changes import load_changes, splitter_of

        spec = config.targets.get(target)
        if spec is None or spec.changes is None:
            return ()
        return tuple(load_changes(spec.changes, target, root=config.root,
                                  impl=splitter_of(spec)))

    def fresh(target: str) -> FreshPlan:
        from setright.runner.fresh_plan import fresh_plan

        return fresh_plan(store.conn, changes(target), target, root=config.root)

    @cache
    def live(target: str) -> LiveSnapshot:
        from setright.runner.snapshots import live_snapshot

        return live_snapshot(config.targets.get(target), target)

    return RedriveContext(now_ms=store.now_ms(), max_age=config.redrive_max_age, owner=owner,
                          fresh_plan=fresh, changes=changes, own_lock_ids=own_lock_ids,
                          holders_before=dict(holders_before or {}), live_schema=live,
                          flamingock_lock_table=config.flamingock_lock_table)


@dataclass
class Derived:
    """What a set of loaded resolution files gives against the ledger: the unapplied entries
    (in file order) and the checks' findings. `plan` and `apply FILE` both start here."""

    entries: list[PlanEntry]
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    invalid_files: list[str] = field(default_factory=list)
    applied: set[tuple[str, str]] = field(default_factory=set)   # (file, entry key)


def derive_entries(conn: Connection, files: Sequence[ResolutionFile], config: Config, *,
                   report_missing: bool = False) -> Derived:
    """Check `files` together and against the ledger `conn` sees; keep the unapplied entries."""
    from setright.resolutions.checks import check_files
    from setright.store.ledger import read_ledger

    checked = check_files(files, config=config, ledger=read_ledger(conn),
                          report_missing=report_missing)
    by_path = {f.path: f for f in files}
    return Derived(entries=[to_plan_entry(e, by_path[e.file]) for e in checked.pending(files)],
                   warnings=[str(p) for p in checked.warnings],
                   errors=[str(p) for p in checked.errors],
                   invalid_files=sorted({p.source for p in checked.errors}),
                   applied=set(checked.applied))


def plan_project(store: Store, config: Config, paths: Sequence[Path] | None = None, *,
                 owner: str, own_lock_ids: Collection[str] = ()) -> Plan:
    """Load the resolution files (all, or the named ones), check them, and plan what is unapplied."""
    from setright.planner.sessions import session_warnings
    from setright.resolutions.files import read_resolution_files

    if paths:
        loaded = read_resolution_files(list(paths), config.root, folder=config.resolutions)
    elif config.resolutions.is_dir():
        loaded = read_resolution_files(config.resolutions, config.root)
    else:  # no folder yet: nothing to plan, not an error
        loaded = read_resolution_files([], config.root)
    derived = derive_entries(store.conn, loaded.files, config, report_missing=not paths)
    plan = build_plan(
        store.conn, entries=derived.entries, files=loaded.files,
        ctx=redrive_context(store, config, owner=owner, own_lock_ids=own_lock_ids),
        store_url=config.store_url, lineage=store.lineage, serial=store.serial,
        warnings=derived.warnings,
        errors=[str(p) for p in loaded.problems] + derived.errors,
    )
    plan.warnings += session_warnings(plan.actions, config)
    plan.unreadable_files = sorted({p.source for p in loaded.problems})
    plan.invalid_files = derived.invalid_files
    return plan
