"""Why a redrive's remaining work and the fresh plan differ, in lines a human reads.

Exact match: the fresh plan's pending changes are exactly the
remaining tasks' changes, in order, with the same checksums, and each one's
latest audit row was written by this apply (nobody marked it since).
Checksums are compared first; only a task whose checksum differs has its
recorded operations read, their hashes compared, and `DeepDiff` run on the
operations whose hashes differ, so a 10,000-operation apply with one edited
statement costs one small diff.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from setright.db import Connection
from setright.runner.fresh_plan import FreshPlan
from setright.runner.model import Change
from setright.store.applies import ApplyRow, TaskRow, operations_of
from setright.timeutil import ms_from_any

OpTuple = tuple[int, str, str, str]  # seq, hash, state, statement


def _short(text: Any, width: int = 60) -> str:
    text = " ".join(str(text).split())
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def _yaml_value(value: Any) -> str:
    """Values as a change file spells them (`true`, not `True`)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def explain_mismatch(conn: Connection, apply: ApplyRow, remaining: Sequence[TaskRow],
                     fresh: FreshPlan, changes: Callable[[str], Sequence[Change]]) -> list[str]:
    """Every difference between the remaining work and the fresh plan; [] when they match."""
    lines: list[str] = []
    ours = [t.change_id for t in remaining]
    ours_set = set(ours)  # membership tests below: linear in the number of tasks, not quadratic
    theirs = [c.change_id for c in fresh.changes]
    by_id = {c.change_id: c for c in fresh.changes}
    for change_id in theirs:
        if change_id not in ours_set:
            lines.append(f"fresh plan has change {change_id} that apply {apply.id} never reviewed")
    files: dict[str, Change] | None = None
    for task in remaining:
        if task.change_id not in by_id:
            if files is None:
                files = {c.id: c for c in changes(apply.target)}
            why = ("its change file was removed" if task.change_id not in files
                   else "it is no longer pending")
            lines.append(f"change {task.change_id} of apply {apply.id} is not in the fresh plan: "
                         f"{why}")
    common_ours = [c for c in ours if c in by_id]
    common_theirs = [c for c in theirs if c in ours_set]
    if common_ours != common_theirs:
        lines.append(f"the fresh plan runs {', '.join(common_theirs)}; apply {apply.id} ran "
                     f"{', '.join(common_ours)}")
    differing = [t for t in remaining if t.change_id in by_id
                 and by_id[t.change_id].checksum != t.checksum]
    if differing:
        if files is None:
            files = {c.id: c for c in changes(apply.target)}
        for task in differing:
            recorded = [(op.seq, op.hash, op.state, op.statement)
                        for op in operations_of(conn, apply.id, task.change_id)]
            lines += _explain_task(task, recorded, files.get(task.change_id))
    lines += _marked_since(conn, apply, remaining)
    return lines


def _explain_task(task: TaskRow, recorded: list[OpTuple], change: Change | None) -> list[str]:
    """DeepDiff of one task as reviewed vs its change file now, restricted to what differs."""
    from deepdiff import DeepDiff  # lazy: only when a checksum differs

    cid = task.change_id
    if change is None:
        return [f"change {cid}: its change file was removed"]
    now_ops = {op.seq: (op.hash, op.statement) for op in change.operations}
    old_ops = {seq: (h, stmt) for seq, h, _, stmt in recorded}
    seqs = [s for s in sorted(set(now_ops) | set(old_ops))
            if old_ops.get(s, ("",))[0] != now_ops.get(s, ("",))[0]]
    old = {"transactional": task.transactional, "recovery": task.recovery_strategy,
           "operations": {s: old_ops[s][1] for s in seqs if s in old_ops}}
    new = {"transactional": change.transactional, "recovery": change.recovery,
           "operations": {s: now_ops[s][1] for s in seqs if s in now_ops}}
    tree = DeepDiff(old, new, view="tree")
    lines = []
    for report, items in sorted(tree.items()):
        for item in items:
            path = item.path(output_format="list")
            if path[0] == "operations" and len(path) == 2:
                seq = path[1]
                if report == "dictionary_item_added":
                    lines.append(f"operation {seq} of change {cid} was added: {_short(item.t2)}")
                elif report == "dictionary_item_removed":
                    lines.append(f"operation {seq} of change {cid} was removed: {_short(item.t1)}")
                else:
                    lines.append(f"operation {seq} of change {cid} changed: {_short(item.t1)} → "
                                 f"{_short(item.t2)}")
            else:
                lines.append(f"change {cid}: {path[0]} changed: {_yaml_value(item.t1)} → "
                             f"{_yaml_value(item.t2)}")
    if not lines:  # same operations and flags: the id, target or a rollback changed
        lines.append(f"change {cid}: checksum changed ({task.checksum} → {change.checksum}); "
                     "its rollback or identity changed")
    return sorted(lines, key=lambda ln: (not ln.startswith("change"), ln))


def _marked_since(conn: Connection, apply: ApplyRow,
                  remaining: Sequence[TaskRow]) -> list[str]:
    """Remaining changes whose latest audit row this apply did not write."""
    lines = []
    created = ms_from_any(apply.created_at) or 0
    for task in remaining:
        row = conn.execute("SELECT state, execution_id, created_ms FROM setright_change_state"
                           " WHERE change_id = ?", (task.change_id,)).fetchone()
        if row is None or row[1] == apply.id:
            continue
        if task.started_at is None and (row[2] or 0) <= created:
            continue  # never started in this apply, and untouched since it was created
        how = "marked" if str(row[0]).startswith("MANUAL_") else f"moved by {row[1]} to"
        lines.append(f"change {task.change_id} was {how} {row[0]} since the apply failed")
    return lines
