"""The plan model: an action per resolution-file entry, each with an outcome and a guard.

Kept apart from the views (`render/plan.py`) and from how a plan is built
(`planner/build.py`), as Terraform keeps its plan model apart from its views.
A plan round-trips through JSON (`as_dict` / `from_dict`) so a saved plan is
exactly what was reviewed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from enum import StrEnum
from functools import cache
from operator import attrgetter
from typing import Any

FORMAT_VERSION = "1.0"


#: values `plain` returns as they are: leaves, by exact type (a str enum is a leaf too)
_LEAVES = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """`dataclasses.asdict` for plan data: dataclasses become dicts, containers are copied.

    The same result as `asdict`, without its `deepcopy` of every leaf (plan
    leaves are strings, numbers and enums): a third of a 10,000-entry plan's
    JSON output went there. Leaves are told by their exact type first, and a
    dataclass's field names are looked up once per class, because a plan has
    some 40 values per action.
    """
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is dict:
        if _LEAVES.issuperset(map(type, value.values())) and _LEAVES.issuperset(map(type, value)):
            return dict(value)   # leaves only (a guard's data): copied in C
        return {k if type(k) in _LEAVES else plain(k): v if type(v) in _LEAVES else plain(v)
                for k, v in value.items()}
    if kind is list:
        if _LEAVES.issuperset(map(type, value)):
            return list(value)
        return [v if type(v) in _LEAVES else plain(v) for v in value]
    names = _field_names(kind)
    if names is not None:
        return {name: plain(getattr(value, name)) for name in names}
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


@cache
def _field_names(kind: type) -> tuple[str, ...] | None:
    """The field names of a dataclass type, in order; None for any other type."""
    return tuple(f.name for f in fields(kind)) if is_dataclass(kind) else None


class ActionKind(StrEnum):
    RESOLVE = "resolve"
    REDRIVE = "redrive"


class Outcome(StrEnum):
    CHANGE = "change"          # will write
    SATISFIED = "satisfied"    # nothing to write; recorded in the ledger on apply
    CONFLICT = "conflict"      # an error: the plan cannot be applied


SYMBOLS = {  # text view: (unicode, ascii)
    (ActionKind.RESOLVE, Outcome.CHANGE): ("~", "~"),
    (ActionKind.REDRIVE, Outcome.CHANGE): ("↻", "@"),
    (ActionKind.RESOLVE, Outcome.SATISFIED): ("=", "="),
    (ActionKind.REDRIVE, Outcome.SATISFIED): ("=", "="),
    (ActionKind.RESOLVE, Outcome.CONFLICT): ("✗", "x"),
    (ActionKind.REDRIVE, Outcome.CONFLICT): ("✗", "x"),
}


@dataclass
class Guard:
    """The canonical data an action read, and its `dh1:` fingerprint."""

    fingerprint: str
    data: dict[str, Any]


@dataclass
class Action:
    address: str                      # resolution.change[<id>] | redrive.apply[<id>]
    kind: ActionKind
    outcome: Outcome
    file: str                         # resolution file, relative to the project root
    entry_key: str                    # resolution:<change> | redrive:<apply>
    before: str | None                # state now (change state, or apply state)
    after: str | None                 # state after apply
    guard: Guard
    entry: dict[str, Any] = field(default_factory=dict)     # the entry as written (+ line)
    target: str | None = None
    fresh_plan: dict[str, Any] | None = None    # redrives: {fingerprint, changes}
    remaining_work: list[dict[str, Any]] | None = None
    completed_work: list[dict[str, Any]] | None = None
    messages: list[str] = field(default_factory=list)
    #: redrives: how the target's schema differs from the failure-time snapshot, one line each
    drift: list[str] = field(default_factory=list)
    #: what the action could not check (shown with the plan's warnings), one line each
    warnings: list[str] = field(default_factory=list)

    @property
    def subject(self) -> str:
        """The change id or apply id the action is about."""
        return self.entry_key.split(":", 1)[1]

    @property
    def place(self) -> str:
        """Where the entry is written: `file:line` (the file alone when its line is unknown)."""
        line = self.entry.get("line")
        return f"{self.file}:{line}" if line else self.file

    def as_dict(self) -> dict[str, Any]:
        """`plain(self)` with the enums as text, written out: a plan has one per entry."""
        return {
            "address": self.address, "kind": str(self.kind), "outcome": str(self.outcome),
            "file": self.file, "entry_key": self.entry_key, "before": self.before,
            "after": self.after,
            "guard": {"fingerprint": self.guard.fingerprint, "data": plain(self.guard.data)},
            "entry": plain(self.entry), "target": self.target,
            "fresh_plan": plain(self.fresh_plan), "remaining_work": plain(self.remaining_work),
            "completed_work": plain(self.completed_work), "messages": plain(self.messages),
            "drift": plain(self.drift), "warnings": plain(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Action:
        return cls(**{**data, "kind": ActionKind(data["kind"]),
                      "outcome": Outcome(data["outcome"]), "guard": Guard(**data["guard"])})


@dataclass
class ResolutionFileRef:
    path: str
    digest: str
    reason: str | None = None
    ticket: str | None = None
    author: str | None = None


@dataclass
class Plan:
    plan_id: str
    created_at: str
    setright_version: str
    deepdiff_version: str
    store: dict[str, Any]             # {url (no secrets), lineage, serial}
    resolution_files: list[ResolutionFileRef]
    actions: list[Action]
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)    # problems outside any one action
    format_version: str = FORMAT_VERSION
    unreadable_files: list[str] = field(default_factory=list)  # could not be read or parsed
    invalid_files: list[str] = field(default_factory=list)     # read, but refused by the checks

    def count(self, kind: ActionKind | None, outcome: Outcome) -> int:
        """Actions with this outcome (and kind): counted in C, since a plan's views ask
        a handful of times of 10,000 actions."""
        outcomes = list(map(attrgetter("outcome"), self.actions))
        if kind is None:
            return outcomes.count(outcome)
        return list(zip(map(attrgetter("kind"), self.actions), outcomes)).count((kind, outcome))

    @property
    def summary(self) -> dict[str, int]:
        return {
            "resolve": self.count(ActionKind.RESOLVE, Outcome.CHANGE),
            "redrive": self.count(ActionKind.REDRIVE, Outcome.CHANGE),
            "satisfied": self.count(None, Outcome.SATISFIED),
            "conflicts": self.count(None, Outcome.CONFLICT),
        }

    @property
    def errored(self) -> bool:
        return bool(self.errors) or self.count(None, Outcome.CONFLICT) > 0

    @property
    def applyable(self) -> bool:
        return not self.errored and any(a.outcome != Outcome.CONFLICT for a in self.actions)

    @property
    def has_changes(self) -> bool:
        return self.count(None, Outcome.CHANGE) > 0

    def as_dict(self) -> dict[str, Any]:
        return self.fields(actions=[a.as_dict() for a in self.actions])

    def fields(self, *, actions: Any) -> dict[str, Any]:
        """`as_dict` with `actions` as the value of "actions" (a view that writes the actions
        itself passes a placeholder: a 10,000-action plan's dicts cost more than its view)."""
        return {
            "format_version": self.format_version,
            "plan_id": self.plan_id,
            "created_at": self.created_at,
            "setright_version": self.setright_version,
            "deepdiff_version": self.deepdiff_version,
            "store": self.store,
            "resolution_files": [plain(f) for f in self.resolution_files],
            "actions": actions,
            "summary": self.summary,
            "applyable": self.applyable,
            "errored": self.errored,
            "warnings": self.warnings,
            "errors": self.errors,
            "unreadable_files": self.unreadable_files,
            "invalid_files": self.invalid_files,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(
            plan_id=data["plan_id"], created_at=data["created_at"],
            setright_version=data["setright_version"],
            deepdiff_version=data["deepdiff_version"], store=data["store"],
            resolution_files=[ResolutionFileRef(**f) for f in data["resolution_files"]],
            actions=[Action.from_dict(a) for a in data["actions"]],
            warnings=list(data.get("warnings", [])), errors=list(data.get("errors", [])),
            format_version=data["format_version"],
            unreadable_files=list(data.get("unreadable_files", [])),
            invalid_files=list(data.get("invalid_files", [])),
        )
