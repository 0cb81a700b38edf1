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
        data: dict[str, Any] = {"line": self.line}
        if self.kind == "resolution":
            data.update(change=self.subject, resolution=self.resolution,
                        expect=list(self.expect) or None, target=self.target)
        else:
            data.update(apply=self.subject, force=self.force)
            if self.accept_drift:
                data["accept_drift"] = True
        data.update(note=self.note, reason=self.reason, ticket=self.ticket)
        return {k: v for k, v in data.items() if v is not None}


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
