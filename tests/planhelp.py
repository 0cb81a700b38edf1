"""Scenarios for plan tests: real runner executions, then resolution files, then `setright plan`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from runhelp import Project, normalise
from setright.store import Store
from setright.timeutil import FixedClock


class Crash(BaseException):
    """Raised from the runner's after-commit hook: the process 'dies' right there."""


def crash_after(change_id: str, seq: int):  # type: ignore[no-untyped-def]
    def hook(cid: str, first: int, last: int) -> None:
        if cid == change_id and first <= seq <= last:
            raise Crash()
    return hook


def resolution_file(project: Project, name: str, *, reason: str = "verified by hand",
                    ticket: str | None = None, resolutions: list[dict[str, Any]] | None = None,
                    redrives: list[dict[str, Any]] | None = None,
                    author: str | None = None) -> Path:
    data: dict[str, Any] = {"version": 1, "reason": reason}
    if ticket:
        data["ticket"] = ticket
    if author:
        data["author"] = author
    if resolutions:
        data["resolutions"] = resolutions
    if redrives:
        data["redrives"] = redrives
    path = project.root / "resolutions" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def plan(project: Project, clock: FixedClock, *args: str) -> tuple[int, str, str]:
    result = project.cli("plan", *args, clock=clock)
    return result.exit_code, normalise(result.stdout), normalise(result.stderr)


def plan_json(project: Project, clock: FixedClock, *args: str) -> dict[str, Any]:
    result = project.cli("plan", "--format", "json", *args, clock=clock)
    return json.loads(result.stdout)


def actions(project: Project, clock: FixedClock, *args: str) -> dict[str, tuple[str, list[str]]]:
    """entry key → (outcome, messages)."""
    data = plan_json(project, clock, *args)
    return {a["entry_key"]: (a["outcome"], [normalise(m) for m in a["messages"]])
            for a in data["actions"]}


def failed_apply_id(store: Store) -> str:
    store.refresh()
    return store.conn.execute(
        "SELECT id FROM setright_applies WHERE state = 'failed' ORDER BY created_at DESC"
        " LIMIT 1").fetchone()[0]


def mark(project: Project, clock: FixedClock, change_id: str, resolution: str) -> None:
    """What `audit fix` does: a manual mark in the audit log."""
    from setright.store.audit import mark_change
    from setright.store.transitions import Provenance

    store = project.open_store(clock)
    with store.write() as tx:
        mark_change(tx, store.audit_table, change_id, resolution,
                    Provenance(actor="ops@example.com", source="cli"), now_ms=clock.now_ms(),
                    execution_id="fx-test")
    store.close()


BACKFILL = ("UPDATE t SET v = 2 WHERE id = 1;\nINSERT INTO fix_me VALUES (1);\n"
            "UPDATE t SET v = 2 WHERE id = 2;")


def backfill_project(root: Path, clock: FixedClock) -> Project:
    """seed completed; backfill FAILED at operation 2 of 3 (NON_TX); add-index never ran."""
    p = Project(root)
    p.change("_0001__seed", apply="CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER);\n"
             "INSERT INTO t (v) VALUES (1), (1);")
    p.change("_0002__backfill", transactional=False, apply=BACKFILL)
    p.change("_0003__add-index", apply="CREATE INDEX t_v ON t (v);")
    store = p.open_store(clock)
    [outcome] = p.run(store)
    assert outcome.apply_state == "failed"
    store.close()
    return p


def state_and_ledger(project: Project, clock: FixedClock) -> dict[str, Any]:
    """Every state table plus the ledger: what a refused command must leave untouched."""
    from runhelp import state_rows

    store = project.open_store(clock)
    try:
        return {**state_rows(store), "ledger": store.conn.execute(
            "SELECT * FROM setright_ledger ORDER BY 1, 2").fetchall()}
    finally:
        store.close()


def two_target_project(root: Path, clock: FixedClock) -> tuple[Project, str]:
    """app: seed APPLIED, loose FAILED half-way (non-transactional); jobs: a failed apply of
    jobs-index (a redrive candidate), whose id is returned beside the project."""
    p = Project(root, targets=("app", "jobs"))
    p.change("_0001__seed", apply="CREATE TABLE t (id INTEGER);")
    p.change("_0002__loose", transactional=False,
             apply="INSERT INTO t VALUES (1);\nINSERT INTO nowhere VALUES (1);")
    p.change("_0001__jobs-table", target="jobs", apply="CREATE TABLE jobs (id INTEGER);")
    p.change("_0002__jobs-index", target="jobs", apply="CREATE INDEX j ON jobs (missing);")
    store = p.open_store(clock)
    p.run(store)
    jobs_apply = store.conn.execute(
        "SELECT id FROM setright_applies WHERE target = 'jobs'").fetchone()[0]
    store.close()
    return p, str(jobs_apply)
