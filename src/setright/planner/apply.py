"""Carrying out a reviewed plan, all or nothing.

1. the plan's store lineage and every resolution file's digest must match;
2. policy.require_committed: files committed and clean inside git (commit recorded);
3. take `setright:apply`, re-derive the actions (a stale plan stops here), and take the
   `target:` locks the re-derived actions touch (a forced redrive's takeover included);
4. in ONE write transaction, re-derive every action from the files the plan
   names, the ledger and the store (planner/stale.py), and refuse unless the
   result equals the saved plan action for action; then
5. write marks, redrive transitions, events and ledger rows — of the re-derived
   actions: the plan file never supplies a resolution, reason or ticket;
6. release the locks.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from setright.config import Config
from setright.db import Connection
from setright.errors import SetrightError
from setright.fingerprint import deepdiff_version, same_major
from setright.planner.build import evaluate_entries
from setright.planner.context import RedriveContext
from setright.planner.entries import entry_from_action
from setright.planner.model import Action, ActionKind, Outcome, Plan
from setright.planner.project import redrive_context
from setright.planner.sessions import refuse_live_sessions
from setright.planner.stale import (
    STALE,
    Findings,
    compare_actions,
    evaluate,
    reviewed_files,
    saved_plan_findings,
)
from setright.planner.writes import describe, write_mark, write_redrive
from setright.resolutions.model import ResolutionFile
from setright.store import Store
from setright.store.audit import refresh_change_state
from setright.store.ledger import LedgerRow, record_ledger_entry
from setright.store.locks import Locker, LockInfo
from setright.store.transitions import Provenance
from setright.timeutil import iso_from_ms

CLI_FILE = "<cli>"   # the `file` of actions that come from `audit fix` / `redrive`
NOTHING_WRITTEN = "nothing was written; make a new plan"


class StalePlan(SetrightError):
    """Something an action read has moved since the plan was made; nothing was written.

    `now` holds the actions as re-evaluated inside the refusing transaction, so a
    caller (`audit fix`, `redrive`) can report the facts that really refused it.
    """

    def __init__(self, message: str, details: list[str] | None = None,
                 now: Sequence[Action] = ()) -> None:
        super().__init__(message, details)
        self.now = list(now)


@dataclass
class ApplyResult:
    lines: list[str] = field(default_factory=list)
    resolved: int = 0
    redriven: int = 0
    satisfied: int = 0

    def summary(self) -> str:
        return (f"Apply complete! {self.resolved} resolved, {self.redriven} redriven, "
                f"{self.satisfied} satisfied.")


def check_applyable(plan: Plan, store: Store) -> None:
    """A plan with conflicts or errors, or made for another store, is refused before any lock."""
    if plan.errored:
        raise SetrightError("this plan has conflicts or errors and cannot be applied",
                            [*plan.errors, *(f"{a.address}: {a.messages[0]}" for a in plan.actions
                                             if a.outcome == Outcome.CONFLICT and a.messages)])
    if not store.lineage_matches(plan.store.get("lineage")):
        raise SetrightError("this plan was made for another audit store",
                            [f"plan lineage {plan.store.get('lineage')}, "
                             f"store lineage {store.lineage}"])
    planned = plan.store.get("serial")
    if isinstance(planned, int) and planned > store.serial:
        # a store's serial only grows: the plan read a copy that is ahead of this one
        raise SetrightError("this plan was made for another copy of this audit store",
                            [f"the plan read it at serial {planned}; this store is at serial "
                             f"{store.serial}, behind it",
                             "after 'store migrate', apply to the new store and stop "
                             "using the old one"])


def load_reviewed_files(plan: Plan, config: Config) -> list[ResolutionFile]:
    """Every resolution file the plan names, still with the digest it was planned with."""
    files, moved = reviewed_files(plan, config)
    if moved:
        raise StalePlan(STALE, [*moved, NOTHING_WRITTEN])
    return files


def check_unchanged(plan: Plan, store: Store, config: Config, files: Sequence[ResolutionFile],
                    *, owner: str) -> None:
    """Re-derive the plan now (outside any transaction): for a plan with nothing to write,
    which `apply` does not lock for — its files may still give actions it does not list."""
    found = saved_plan_findings(plan, store, config, owner=owner, files=files)
    if found.lines:
        raise StalePlan(found.heading, [*found.lines, NOTHING_WRITTEN])


class FileOrigins(NamedTuple):
    """What git says about the resolution files a plan uses, recorded with what they write."""

    commits: dict[str, str]       # file -> sha of its newest commit (committed files only)
    authors: dict[str, str]       # file -> author email of the commit that added it
    warnings: list[str]


def file_origins(plan: Plan, config: Config, *, allow_dirty: bool,
                 named_authors: Collection[str] = ()) -> FileOrigins:
    """policy.require_committed: the files must be committed and clean; return their
    commits, and the git author a file that names no `author` is recorded with
    (`named_authors`: the files that name one, whose git author is not asked)."""
    from setright.resolutions.git import (
        FileStatus,
        adding_commits,
        file_statuses,
        in_work_tree,
        last_commits,
        shallow_work_trees,
    )

    used = sorted({a.file for a in plan.actions if a.file != CLI_FILE})
    paths = {name: config.root / name for name in used}
    if not paths:
        return FileOrigins({}, {}, [])
    if not in_work_tree(config.root):
        return FileOrigins({}, {}, ["resolution files are not in a git work tree: no commit "
                                    "is recorded"])
    warnings = []
    statuses = file_statuses(paths.values())
    dirty = [f"{name}: {statuses[path]}" for name, path in paths.items()
             if statuses[path] != FileStatus.COMMITTED]
    if dirty and config.require_committed and not allow_dirty:
        raise SetrightError("resolution files must be committed and clean before apply "
                            "(policy.require_committed)", [*dirty, "commit them, or pass "
                                                           "--allow-dirty"])
    if dirty:
        warnings.append("applying uncommitted resolution files: " + ", ".join(dirty))
    commits = last_commits(p for name, p in paths.items() if statuses[p] == FileStatus.COMMITTED)
    unnamed = [p for name, p in paths.items()
               if statuses[p] != FileStatus.UNTRACKED and name not in named_authors]
    added = adding_commits(unnamed)
    if unnamed and shallow_work_trees(unnamed):
        warnings.append("a resolution file that names no `author` is recorded without one: "
                        "this is a shallow git clone, where git cannot tell who added a file; "
                        "fetch the whole history (actions/checkout `fetch-depth: 0`, or "
                        "`git fetch --unshallow`)")
    authors = {name: info.author_email for name, p in paths.items()
               if (info := added.get(p)) and info.author_email}
    for name, problem in _unfit_authors(authors).items():
        warnings.append(f"{name}: the author of the commit that added it is not recorded: "
                        f"{problem}")
        del authors[name]
    return FileOrigins(
        commits={name: info.sha for name, p in paths.items() if (info := commits.get(p))},
        authors=authors, warnings=warnings)


def _unfit_authors(authors: dict[str, str]) -> dict[str, str]:
    """The git authors a file could not name as its `author` (an escape, a line break), by
    file: git takes any email, and the audit log's readers are terminals too."""
    from setright.schemas import data_problems

    verdicts = {email: data_problems({"version": 1, "reason": "-", "author": email},
                                     "resolution") for email in set(authors.values())}
    return {name: verdicts[email][0][1] for name, email in authors.items() if verdicts[email]}


def apply_plan(plan: Plan, store: Store, config: Config, *, actor: str, owner: str,
               files: Sequence[ResolutionFile] | None = None, source: str = "file",
               origins: FileOrigins | None = None, lock_timeout: float = 0.0,
               pull_request: str | None = None) -> ApplyResult:
    """Carry out a checked plan: locks, re-evaluation and writes in one transaction, then
    the locks released.

    `files`: the resolution files the plan names (`load_reviewed_files`); every action is
    re-derived from them and the store, and what is written is the re-derived actions.
    None only for the one-entry plans of `audit fix` / `redrive`, built in this process.
    """
    check_applyable(plan, store)
    if files is None and any(a.file != CLI_FILE for a in plan.actions):
        raise SetrightError("a plan of resolution files is applied from its files")
    locker = Locker(store, ttl=config.lock_ttl, owner=owner)
    held: list[LockInfo] = []
    try:
        lock, _ = locker.acquire("setright:apply", "apply", info=plan.plan_id, timeout=lock_timeout)
        held.append(lock)
        # Which targets to lock, and whether to take one over, come from the files and the
        # store, never from the plan file: a stale or forged plan touches no target lock.
        store.refresh()
        now = _rederive(plan, store.conn, store, config, files, redrive_context(
            store, config, owner=owner, own_lock_ids={lock.lock_id}))
        if now.lines:
            raise StalePlan(now.heading, [*now.lines, NOTHING_WRITTEN], now=now.actions)
        refuse_live_sessions(now.actions, config)   # before the locks: a refusal takes none
        holders_before = _lock_targets(now.actions, plan.plan_id, locker, held, lock_timeout,
                                       config)
        return _transaction(plan, store, config, files, actor=actor, owner=owner,
                            source=source, origins=origins or FileOrigins({}, {}, []), held=held,
                            holders_before=holders_before, pull_request=pull_request)
    finally:
        for lock in reversed(held):
            locker.release_quietly(lock)


def _lock_targets(actions: Sequence[Action], plan_id: str, locker: Locker,
                  held: list[LockInfo], timeout: float, config: Config) -> dict[str, str | None]:
    """Take every touched target's lock; a forced redrive takes a held one over and claims
    the target's fence, so the process it took the lock from cannot commit there any more."""
    holders: dict[str, str | None] = {}
    changing = [a for a in actions if a.outcome == Outcome.CHANGE and a.target]
    for target in sorted({a.target for a in changing if a.target}):
        force = any(a.kind == ActionKind.REDRIVE and a.entry.get("force")
                    for a in changing if a.target == target)
        lock, previous = locker.acquire(f"target:{target}", "apply", info=plan_id,
                                        take_over=force, timeout=timeout)
        held.append(lock)
        live = previous is not None and previous.expires_at > iso_from_ms(locker.store.now_ms())
        holders[target] = previous.owner if live and previous else None
        if live and target in config.targets:
            _claim_fence(config, target, lock, locker.store.now_iso())
    return holders


def _claim_fence(config: Config, target: str, lock: LockInfo, at: str) -> None:
    from setright.runner.targets import open_target, target_exists

    spec = config.targets[target]
    if not target_exists(spec):
        return
    handle = open_target(spec, create=False)
    try:
        handle.claim(lock.lock_id, lock.owner, at)
    finally:
        handle.close()


def _rederive(plan: Plan, conn: Connection, store: Store, config: Config,
              files: Sequence[ResolutionFile] | None, ctx: RedriveContext) -> Findings:
    """The plan's actions as the files (or, for `audit fix` / `redrive`, the command line's
    entry) and the store give them through `conn` now, and how they differ from the plan."""
    compare_hashes = same_major(plan.deepdiff_version, deepdiff_version())
    if files is None:
        return compare_actions(plan.actions, evaluate_entries(
            conn, [entry_from_action(a) for a in plan.actions], ctx),
            compare_hashes=compare_hashes)
    return evaluate(plan, conn, config, ctx, lineage=store.lineage,
                    lineage_matches=store.lineage_matches(plan.store.get("lineage")),
                    files=files, compare_hashes=compare_hashes)


def _transaction(plan: Plan, store: Store, config: Config,
                 files: Sequence[ResolutionFile] | None, *, actor: str, owner: str, source: str,
                 origins: FileOrigins, held: Sequence[LockInfo],
                 holders_before: dict[str, str | None],
                 pull_request: str | None = None) -> ApplyResult:
    result = ApplyResult()
    with store.write() as tx:
        refresh_change_state(tx, store.audit_table)
        found = _rederive(plan, tx, store, config, files, redrive_context(
            store, config, owner=owner, own_lock_ids={h.lock_id for h in held},
            holders_before=holders_before))
        if found.lines:
            raise StalePlan(found.heading, [*found.lines, NOTHING_WRITTEN], now=found.actions)
        now_ms = store.now_ms()
        digests = {f.path: f.digest for f in files or ()}  # one lookup per entry
        # the file's own `author`, else the author of the commit that added it
        authors = {**origins.authors, **{f.path: f.author for f in files or () if f.author}}
        commits = origins.commits
        for action in found.actions:    # what the files and the store give, never the plan
            prov = Provenance(
                actor=actor, source=source, reason=action.entry.get("reason"),
                ticket=action.entry.get("ticket"),
                resolution=None if action.file == CLI_FILE else f"{action.file}#{action.entry_key}",
                plan_id=plan.plan_id,
                metadata={**({"author": authors[action.file]} if action.file in authors else {}),
                          **({"commit": commits[action.file]} if action.file in commits else {}),
                          **({"pull_request": pull_request} if pull_request else {})})
            if action.outcome == Outcome.SATISFIED:
                result.lines.append(describe(action))
                result.satisfied += 1
            elif action.kind == ActionKind.RESOLVE:
                result.lines.append(write_mark(tx, store.audit_table, action, prov, now_ms=now_ms))
                result.resolved += 1
            else:
                took = holders_before.get(action.target or "") if action.entry.get("force") else None
                result.lines.append(write_redrive(tx, action, prov, now_ms=now_ms,
                                                  took_lock_from=took))
                result.redriven += 1
            if action.file != CLI_FILE:
                record_ledger_entry(tx, LedgerRow(
                    resolution_file=action.file, entry_key=action.entry_key,
                    file_digest=digests[action.file], outcome=str(action.outcome),
                    plan_id=plan.plan_id, commit_sha=commits.get(action.file), actor=actor,
                    applied_at=iso_from_ms(now_ms), pull_request=pull_request))
    return result
