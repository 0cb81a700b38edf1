"""Does a saved plan still describe what its files and the store give?

One evaluation, shared by `show` (which warns) and `apply` (which refuses, inside
its write transaction): the store lineage, the digest of every resolution file
the plan names, then every action re-derived from those files, the ledger and
the store, compared with the saved one field by field. The plan file only fixes
*which* files and *which* store state were reviewed; what `apply` writes is the
re-derived actions, and only when they equal the saved ones.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from setright.config import Config
from setright.planner.build import evaluate_entries
from setright.planner.model import Action, Plan
from setright.planner.redrive import RedriveContext

if TYPE_CHECKING:
    from setright.db import Connection

    from setright.resolutions.model import ResolutionFile
    from setright.store import Store

STALE = "Saved plan is stale"
EDITED = "Saved plan does not match its resolution files"
_ABSENT = object()
#: fields an action takes from its resolution file (the reviewed content), not the store
_REVIEWED = ("kind", "file", "entry_key", "address", "entry")


@dataclass
class Findings:
    """What moved (one line each); `edited`: the plan says what its files do not."""

    lines: list[str] = field(default_factory=list)
    edited: bool = False
    actions: list[Action] = field(default_factory=list)   # re-derived: what apply writes

    @property
    def heading(self) -> str:
        return EDITED if self.edited else STALE


def reviewed_files(plan: Plan, config: Config) -> tuple[list[ResolutionFile], list[str]]:
    """The files the plan names, each with the digest it was planned with; else one line each."""
    from setright.resolutions.files import read_resolution_files

    wanted = {ref.path: ref.digest for ref in plan.resolution_files}
    for index, name in enumerate(wanted):
        _check_name(name, index, config)
    paths = [config.root / name for name in wanted if (config.root / name).is_file()]
    loaded = {f.path: f for f in read_resolution_files(paths, config.root).files
              if f.path in wanted}
    lines = []
    for name, digest in wanted.items():
        found = loaded.get(name)
        if found is None:
            lines.append(f"{name}: gone or invalid since the plan was made")
        elif found.digest != digest:
            lines.append(f"{name}: changed since the plan was made")
    return [loaded[name] for name in sorted(loaded)], lines


def _check_name(name: str, index: int, config: Config) -> None:
    """A plan names its files as `plan` does: directly in the resolutions folder, by their
    name in the project. Any other name (absolute, `..`, another folder) is refused, as
    `plan` refuses such a PATH: `apply` would read, and record, a file nobody planned."""
    from setright.errors import SetrightError
    from setright.redact import escaped_name
    from setright.resolutions.files import is_yaml_name, relative_name

    base = name.rpartition("/")[2]
    if is_yaml_name(base) and name == relative_name(config.resolutions / base, config.root):
        return
    folder = escaped_name(relative_name(config.resolutions, config.root))
    raise SetrightError(f"the plan's resolution_files[{index}].path {name!r} is "
                        f"not a resolution file of this project: setright reads only the "
                        f"*.yaml and *.yml files directly in {folder}/; make a new plan")


def evaluate(plan: Plan, conn: Connection, config: Config, ctx: RedriveContext, *,
             lineage: str | None, lineage_matches: bool, compare_hashes: bool,
             files: Sequence[ResolutionFile] | None = None) -> Findings:
    """Everything `apply` would refuse the plan for, against what `conn` sees now.

    `lineage_matches` is the store's verdict on the plan's lineage (`Store.lineage_matches`:
    the same lineage, or `null` while the store had none)."""
    from setright.planner.project import derive_entries

    if not lineage_matches:
        return Findings([f"this plan was made for another audit store (plan lineage "
                         f"{plan.store.get('lineage')}, store lineage {lineage})"])
    if files is None:
        files, moved = reviewed_files(plan, config)
        if moved:
            return Findings(moved)
    refs = _ref_changes(plan, files)
    derived = derive_entries(conn, files, config)
    now = evaluate_entries(conn, derived.entries, ctx)
    found = compare_actions(plan.actions, now, derived.applied, compare_hashes=compare_hashes)
    found.lines[:0] = [*refs, *(f"the files now give an error: {e}" for e in derived.errors)]
    found.edited = found.edited or bool(refs)
    return found


def _ref_changes(plan: Plan, files: Sequence[ResolutionFile]) -> list[str]:
    """The reason, ticket and author the plan shows for each file must be the file's."""
    by_path = {f.path: f for f in files}
    out = []
    for index, ref in enumerate(plan.resolution_files):
        file = by_path.get(ref.path)
        for name in ("reason", "ticket", "author") if file else ():
            if getattr(ref, name) != getattr(file, name):
                out.append(f"resolution_files[{index}].{name} {_shown(getattr(ref, name))} in "
                           f"the plan file, {_shown(getattr(file, name))} from {ref.path}")
    return out


def saved_plan_findings(plan: Plan, store: Store, config: Config, *, owner: str,
                        files: Sequence[ResolutionFile] | None = None) -> Findings:
    """`evaluate` against the store as it is now, outside any transaction (for `show`)."""
    from setright.fingerprint import deepdiff_version, same_major
    from setright.planner.project import redrive_context

    return evaluate(plan, store.conn, config, redrive_context(store, config, owner=owner),
                    lineage=store.lineage,
                    lineage_matches=store.lineage_matches(plan.store.get("lineage")), files=files,
                    compare_hashes=same_major(plan.deepdiff_version, deepdiff_version()))


def _key(action: Action) -> tuple[str, str]:
    return action.file, action.entry_key


def _name(action: Action) -> str:
    return f"{action.address} ({action.file})"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def compare_actions(saved: Sequence[Action], now: Sequence[Action],
                    applied: Collection[tuple[str, str]] = (), *,
                    compare_hashes: bool) -> Findings:
    """The saved actions against the re-derived ones: the same set, order and content."""
    found = Findings(actions=list(now))
    counts = Counter(_key(a) for a in saved)
    for key, count in sorted(counts.items()):
        if count > 1:
            found.edited = True
            found.lines.append(f"the plan file lists {key[1]} of {key[0]} {count} times")
    now_keys = {_key(a) for a in now}
    missing = [a for a in now if _key(a) not in counts]
    extra = [a for a in saved if _key(a) not in now_keys]
    if missing or extra:
        parts = [f"missing {_name(a)}" for a in missing]
        for a in extra:
            parts.append(f"{_name(a)} is already in the ledger (applied since the plan was made)"
                         if _key(a) in applied
                         else f"{_name(a)} is not an unapplied entry of its file")
        found.edited = found.edited or bool(missing) or any(_key(a) not in applied for a in extra)
        found.lines.append(f"plan file lists {_plural(len(saved), 'action')}, the files give "
                           f"{len(now)}: " + "; ".join(parts))
    common_saved = [_key(a) for a in saved if _key(a) in now_keys]
    common_now = [_key(a) for a in now if _key(a) in counts]
    if common_saved != common_now and len(set(common_saved)) == len(common_saved):
        found.edited = True
        found.lines.append("the plan file lists its actions in another order than the files")
    by_key = {_key(a): a for a in now}
    for planned in saved:
        if counts[_key(planned)] == 1 and _key(planned) in by_key:
            lines, edited = action_differences(planned, by_key[_key(planned)],
                                               compare_hashes=compare_hashes)
            found.lines += [f"{_name(planned)}: {line}" for line in lines]
            found.edited = found.edited or edited
    return found


def _flatten(data: object, prefix: str = "") -> dict[str, object]:
    if isinstance(data, dict):
        out: dict[str, object] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out or {prefix: {}}
    if isinstance(data, list):
        out = {}
        for index, value in enumerate(data):
            out.update(_flatten(value, f"{prefix}[{index}]"))
        return out or {prefix: []}
    return {prefix: data}


def _plain(action: Action) -> dict[str, Any]:
    """The action as JSON would carry it (tuples → lists), so saved and fresh compare alike."""
    data: dict[str, Any] = json.loads(json.dumps(action.as_dict(), default=str))
    return data


def _shown(value: object) -> str:
    if value is _ABSENT:
        return "absent"
    text = repr(value)
    return text if len(text) <= 100 else text[:99] + "…"


def field_changes(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, object, object]]:
    """(path, old, new) for each leaf that differs; `_ABSENT` where one side lacks it."""
    before, after = _flatten(old), _flatten(new)
    return [(path, before.get(path, _ABSENT), after.get(path, _ABSENT))
            for path in sorted(set(before) | set(after))
            if before.get(path, _ABSENT) != after.get(path, _ABSENT)]


def guard_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """`path: old → new` for each guard field that moved (small data: guards hash big parts)."""
    return [_LIVE_SCHEMA_MOVED if path == "live_schema" and _both_hashes(a, b)
            else f"{path}: {_shown(a)} → {_shown(b)}" for path, a, b in field_changes(old, new)]


#: a redrive guard's live schema moved: two hashes say less than this does
_LIVE_SCHEMA_MOVED = "live_schema: the target's schema changed since the plan"


def _both_hashes(a: object, b: object) -> bool:
    return all(isinstance(v, str) and v.startswith("dh1:") for v in (a, b))


def _store_moves(planned: Action, now: Action, *, compare_hashes: bool) -> list[str]:
    """What moved in the store (or the change files) between the plan and now."""
    out = []
    if planned.outcome != now.outcome:
        why = now.messages[0] if now.messages else ""
        if why.endswith(":") and len(now.messages) > 1:  # a heading: show its first detail too
            why = f"{why} {now.messages[1].strip()}"
        out.append(f"outcome {planned.outcome} → {now.outcome}" + (f": {why}" if why else ""))
    same_guard = (planned.guard.fingerprint == now.guard.fingerprint if compare_hashes else
                  json.dumps(planned.guard.data, sort_keys=True, default=str)
                  == json.dumps(now.guard.data, sort_keys=True, default=str))
    if not same_guard:
        changes = guard_changes(planned.guard.data, now.guard.data)
        out.append("what it read moved since the plan: " + ("; ".join(changes[:4]) + (
            f"; and {len(changes) - 4} more" if len(changes) > 4 else "")
            if changes else "guard fingerprint differs"))
    if _without_hashes(planned.fresh_plan, compare_hashes) != \
            _without_hashes(now.fresh_plan, compare_hashes):
        out.append("the fresh plan of its target changed")
    return out


def _without_hashes(fresh: dict[str, Any] | None, compare_hashes: bool) -> object:
    """A fresh plan's fingerprint; under another deepdiff major, what it hashed instead."""
    if compare_hashes:
        return (fresh or {}).get("fingerprint")
    return json.dumps({k: v for k, v in (fresh or {}).items() if k != "fingerprint"},
                      sort_keys=True, default=str)


def action_differences(planned: Action, now: Action, *,
                       compare_hashes: bool) -> tuple[list[str], bool]:
    """Lines naming every field the saved action has otherwise than the re-derived one, and
    whether any of them is reviewed content (the plan was edited, not merely outrun)."""
    old, new = _plain(planned), _plain(now)
    reviewed = {k: old.pop(k, None) for k in _REVIEWED}, {k: new.pop(k, None) for k in _REVIEWED}
    lines = [f"{path} {_shown(a)} in the plan file, {_shown(b)} from {now.file}"
             for path, a, b in field_changes(*reviewed)]
    edited = bool(lines)
    moves = _store_moves(planned, now, compare_hashes=compare_hashes)
    if moves:   # before/after, work and messages follow from what moved: name the cause
        return lines + moves, edited
    if not compare_hashes:   # another deepdiff major hashes otherwise: compare the data only
        for side in (old, new):
            side["guard"].pop("fingerprint", None)
            (side.get("fresh_plan") or {}).pop("fingerprint", None)
    for path, a, b in field_changes(old, new):
        lines.append(f"{path} {_shown(a)} in the plan file, {_shown(b)} now")
        edited = edited or not path.startswith("messages")
    return lines, edited
