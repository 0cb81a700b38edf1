"""fuzz_plan: tampered saved plans, with and without a recomputed digest.

The template has a FAILED change (an issue), an APPLIED one and a failed apply
on a second target; one committed resolution file marks the first, restates
the second (satisfied) and redrives the apply. The saved plan of that file is
tampered 1–3 times (values replaced, keys and items dropped, added, swapped or
duplicated, text damaged), and half the trials recompute the digest as anyone
can. `apply PLAN` must refuse it (exit 1, one `Error:` first, every state table
byte-equal), or apply it exactly as the committed file says: every state and
target table equal to applying the untampered plan (generated ids masked).
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

from core import Context, masked, project_state, raw_fingerprint, rng_for, shown, timeless
from fuzzing import PROCESS_EVERY, Command, error_first, run_command

MINIMUM = 1000
PLAN = "plan.json"


def apply_command(root: Path) -> Command:
    return Command(("apply", str(root / PLAN)), error_first=True, writes_on_success=True)


Path_ = list[Any]


def template(root: Path) -> None:
    from planhelp import resolution_file, two_target_project
    from setright.timeutil import FixedClock
    from storehelp import T0

    clock = FixedClock(T0)
    project, jobs_apply = two_target_project(root, clock)
    resolution_file(project, "2026-11-22-fix.yaml", ticket="OPS-7", resolutions=[
        {"change": "loose", "resolution": "ROLLED_BACK", "expect": "FAILED"},
        {"change": "seed", "resolution": "APPLIED"}], redrives=[{"apply": jobs_apply}])
    saved = project.cli("plan", "-o", str(root / PLAN), clock=clock)
    assert saved.exit_code == 0, saved.output


def _paths(node: Any, here: Path_) -> list[Path_]:
    out = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, [*here, key])
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, [*here, i])
    return out


def _get(data: Any, path: Path_) -> Any:
    for step in path:
        data = data[step]
    return data


def _values(data: Any) -> list[Any]:
    return [_get(data, p) for p in _paths(data, []) if p and not isinstance(_get(data, p),
                                                                           (dict, list))]


def tamper(rng: random.Random, data: dict[str, Any]) -> dict[str, Any] | None:
    """One edit: a description to replay it. Values come from the plan itself or are odd."""
    paths = [p for p in _paths(data, []) if p and p != ["digest"]]
    path = rng.choice(paths)
    value = _get(data, path)
    kind = rng.choice(["replace", "replace", "replace", "delete", "duplicate", "swap", "add",
                       "damage", "retype"])
    edit: dict[str, Any] = {"path": path, "kind": kind}
    if kind == "replace":
        edit["value"] = rng.choice(_values(data) + [None, True, False, 0, -1, 2**63, "", "x",
                                                    [], {}, 1.5, "FAILED", "APPLIED"])
    elif kind == "retype":
        edit["value"] = rng.choice([[value], {"v": value}, str(value), None])
    elif kind == "damage":
        if isinstance(value, str) and value:
            pos = rng.randrange(len(value) + 1)
            edit["value"] = value[:pos] + rng.choice(["0", "a", "\0", "é", " ", "\n", "'"]) + \
                value[pos + 1:]
        elif isinstance(value, bool):
            edit["value"] = not value
        elif isinstance(value, int | float):
            edit["value"] = value + rng.choice([-1, 1, 1000])
        else:
            edit["kind"] = "delete"
    elif kind == "add":
        if isinstance(value, dict):
            edit["key"] = rng.choice(["extra", "outcome", "after", "entry", "line"])
            edit["value"] = rng.choice(_values(data) + [None, 1, "x"])
        elif isinstance(value, list):
            edit["value"] = rng.choice(value) if value else "x"
        else:
            edit["kind"] = "delete"
    elif kind in ("duplicate", "swap"):
        parent = _get(data, path[:-1])
        if not isinstance(parent, list) or (kind == "swap" and len(parent) < 2):
            edit["kind"] = "delete"
        elif kind == "swap":
            edit["other"] = rng.choice([i for i in range(len(parent)) if i != path[-1]])
    return edit


def replay(data: dict[str, Any], edit: dict[str, Any]) -> None:
    path, kind = edit["path"], edit["kind"]
    try:
        parent = _get(data, path[:-1])
        key = path[-1]
        if kind in ("replace", "retype", "damage"):
            parent[key] = json.loads(json.dumps(edit["value"]))
        elif kind == "delete":
            del parent[key]
        elif kind == "duplicate":
            parent.insert(key, json.loads(json.dumps(parent[key])))
        elif kind == "swap":
            parent[key], parent[edit["other"]] = parent[edit["other"]], parent[key]
        elif kind == "add":
            node = parent[key]
            if isinstance(node, dict):
                node[edit["key"]] = edit["value"]
            else:
                node.append(edit["value"])
    except (KeyError, IndexError, TypeError, AttributeError):
        pass  # an earlier edit removed or retyped the place: this one does nothing


def forged(original: dict[str, Any], edits: list[dict[str, Any]], recompute: bool) -> str:
    from setright.planner.saved import plan_digest

    data = json.loads(json.dumps(original))
    for edit in edits:
        replay(data, edit)
    if recompute and isinstance(data, dict):
        data["digest"] = plan_digest(data)
    return json.dumps(data, indent=2, ensure_ascii=False)


def run(ctx: Context) -> None:
    root = ctx.work / "template"
    template(root)
    original = json.loads((root / PLAN).read_text())
    pristine, pristine_raw = project_state(root), raw_fingerprint(root)
    reference = ctx.work / "reference"
    shutil.copytree(root, reference)
    done = run_command(reference, apply_command(reference), real=False)
    assert done.exit_code == 0, done.output
    after_in_process = masked(project_state(reference))
    work = ctx.work / "p"
    dirty = [True]
    applied = [0]

    def attempt(text: str, real: bool) -> tuple[str | None, str]:
        if dirty[0]:
            if work.exists():
                shutil.rmtree(work)
            shutil.copytree(root, work)
            dirty[0] = False
        (work / PLAN).write_text(text)
        got = run_command(work, apply_command(work), real)
        raw = raw_fingerprint(work)
        state = pristine if raw == pristine_raw else project_state(work)
        dirty[0] = raw != pristine_raw
        out = shown(got.output, 1500)
        if "internal error" in got.output or "Traceback" in got.output:
            return "INTERNAL-OR-TRACEBACK", out
        if got.exit_code == 0:
            applied[0] += 1
            want, have = after_in_process, masked(state)
            if real:  # another clock: the same rows at other instants
                want, have = timeless(want), timeless(have)
            return (None if have == want else "APPLIED-OTHERWISE"), out
        if got.exit_code != 1:
            return f"EXIT-{got.exit_code}", out
        if state != pristine:
            return "STATE", out
        if not error_first(got.stderr):
            return "NOT-ERROR", out
        return None, out

    for index in ctx.indexes(MINIMUM):
        rng = rng_for(ctx.seed, ctx.name, index)
        recompute = index % 2 == 0
        edits = [tamper(rng, original) for _ in range(rng.choice([1, 1, 2, 3]))]
        real = index % PROCESS_EVERY == 1
        problem, output = attempt(forged(original, edits, recompute), real)

        def example(edits: list = edits, problem: str | None = problem, real: bool = real,
                    recompute: bool = recompute, index: int = index) -> dict[str, Any]:
            small = list(edits)
            for edit in list(small):
                trial = [e for e in small if e is not edit]
                if trial and attempt(forged(original, trial, recompute), real)[0] == problem:
                    small = trial
            _, out = attempt(forged(original, small, recompute), real)
            return {"case": index, "reproduce": ctx.repro(index), "digest_recomputed": recompute,
                    "real_process": real, "edits": small, "output": out}

        ctx.result.record(problem, example)
    ctx.result.notes.append(f"{applied[0]} tampered plans were applied (each equal to the"
                            " untampered plan's result); the rest refused")
