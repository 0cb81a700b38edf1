"""What the planner needs of a resolution-file entry, whatever the loader's shape.

Evaluation works on `PlanEntry`, so the same code serves resolution files,
the imperative `audit fix` / `redrive` commands (a one-entry plan), and a
saved plan being re-evaluated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


_json_string = json.encoder.encode_basestring   # what json.dumps does with one str


@dataclass(frozen=True)
class PlanEntry:
    kind: str                         # "resolution" | "redrive"
    subject: str                      # change id | apply id
    file: str                         # resolution file (or "<cli>")
    line: int | None = None
    resolution: str | None = None     # APPLIED | ROLLED_BACK
    expect: tuple[str, ...] = ()
    target: str | None = None
    force: bool = False
    accept_drift: bool = False        # redrive although the target's schema lost something
    note: str | None = None
    reason: str | None = None
    ticket: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject}"

    @property
    def address(self) -> str:
        """Terraform-style: `resolution.change["id"]`, `redrive.apply["ap-…"]` (JSON-quoted)."""
        quoted = _json_string(self.subject)   # json.dumps(subject, ensure_ascii=False)
        return (f"resolution.change[{quoted}]" if self.kind == "resolution"
                else f"redrive.apply[{quoted}]")

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def as_entry_dict(self) -> dict[str, Any]:
        """The entry as written (+ line), its unset fields left out: one per action."""
        data: dict[str, Any] = {} if self.line is None else {"line": self.line}
        if self.kind == "resolution":
            data["change"] = self.subject
            if self.resolution is not None:
                data["resolution"] = self.resolution
            if self.expect:
                data["expect"] = list(self.expect)
            if self.target is not None:
                data["target"] = self.target
        else:
            data["apply"] = self.subject
            data["force"] = self.force
            if self.accept_drift:
                data["accept_drift"] = True
        if self.note is not None:
            data["note"] = self.note
        if self.reason is not None:
            data["reason"] = self.reason
        if self.ticket is not None:
            data["ticket"] = self.ticket
        return data


def entry_from_action(action: Any) -> PlanEntry:
    """Rebuild the entry an action was planned from (its `entry` dict), for re-evaluation."""
    e = action.entry
    expect = e.get("expect") or ()
    return PlanEntry(
        kind=action.entry_key.split(":", 1)[0], subject=action.subject, file=action.file,
        line=e.get("line"), resolution=e.get("resolution"),
        expect=tuple([expect] if isinstance(expect, str) else expect), target=e.get("target"),
        force=bool(e.get("force", False)), accept_drift=bool(e.get("accept_drift", False)),
        note=e.get("note"), reason=e.get("reason"),
        ticket=e.get("ticket"))
