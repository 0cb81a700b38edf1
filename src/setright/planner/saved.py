"""Saved plan files (`plan -o FILE`): the JSON plan plus a digest over its content.

Loading checks the JSON, the schema and the digest, in that order, so a
hand-edited or truncated plan is refused before anything reads its actions.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from setright.errors import InvalidInput, Problem, SetrightError
from setright.planner.model import Plan


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def plan_digest(data: dict[str, Any]) -> str:
    body = {k: v for k, v in data.items() if k != "digest"}
    return "sha256:" + hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def save_plan(plan: Plan, path: Path) -> str:
    """Write the plan atomically (temp file + rename); return its digest."""
    data = plan.as_dict()
    data["digest"] = plan_digest(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return str(data["digest"])


def load_plan(path: Path, shown: str | None = None) -> tuple[Plan, str]:
    """Read a saved plan; return it and its digest, or raise naming what is wrong."""
    from setright.schemas import validator_for

    name = shown or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SetrightError(f"cannot read plan file {name}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput("invalid plan file", [Problem(name, exc.lineno, exc.colno, "",
                                                         f"not valid JSON: {exc.msg}")]) from None
    problems = [Problem(name, None, None, e.json_path, e.message)
                for e in sorted(validator_for("plan").iter_errors(data), key=lambda e: e.json_path)]
    if problems:
        raise InvalidInput("invalid plan file", problems)
    if plan_digest(data) != data["digest"]:
        raise SetrightError(f"plan file {name} was modified after it was saved",
                            ["its digest does not match its content; make a new plan"])
    return Plan.from_dict(data), data["digest"]
