"""The resolution file `issue get` suggests (and `issue get --write` creates).

Rendered as text rather than dumped, so it can carry the comments that tell
an operator what to fill in; every scalar is quoted by PyYAML, so ids with
quotes or unicode stay valid YAML. A value holding anything `str.isprintable`
refuses (a line break, an escape, a bidirectional override, a zero-width
space) is written as a JSON string, which YAML reads as the same double-quoted
text: on one line, every such character escaped, in the file as on screen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime

import yaml

from setright.store.diagnosis import Diagnosis
from setright.store.states import ChangeState

_STATES = frozenset(s.value for s in ChangeState)


def yaml_scalar(value: str) -> str:
    if value == "":
        return '""'
    if not value.isprintable():
        return json.dumps(value)
    text = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10_000)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def suggested_resolution(d: Diagnosis) -> str:
    """APPLIED or ROLLED_BACK: what the guidance recommends first for this case."""
    if d.state == "STARTED" and d.operations_total and d.operations_completed == d.operations_total:
        return "APPLIED"
    if d.reason in ("retry-budget-exhausted",) or not d.partial_state_possible:
        return "ROLLED_BACK"
    if d.state == "ROLLBACK_FAILED":
        return "ROLLED_BACK"
    return "APPLIED"


def redrive_note(d: Diagnosis) -> str:
    """What a redrive of this issue's apply does, in the case's own words."""
    lost = d.state == "STARTED" or (d.apply_error or "").startswith("runner lost")
    if lost:  # the runner died mid-change: there was no cause to fix
        return "runner lost; re-run the remaining work"
    return "fixed the cause; re-run the failed work"


def resolution_yaml(d: Diagnosis, *, reason: str = "", require_ticket: bool = False) -> str:
    """A complete v1 resolution file for this issue: a redrive where possible, else a mark.

    Empty `reason` (and `ticket` under policy.require_ticket) fail validation until
    someone fills them in, which is the point: the file is the decision."""
    lines = ["version: 1",
             f"reason: {yaml_scalar(reason)}  # required: what you verified in the target, "
             "and how"]
    lines.append('ticket: ""  # required by policy.require_ticket' if require_ticket
                 else "# ticket: OPS-1234  # optional: the incident or change ticket")
    if d.redrive.possible and d.apply_id:
        lines += ["redrives:",
                  f"  - apply: {yaml_scalar(d.apply_id)}",
                  f"    note: \"{redrive_note(d)}\""]
        return "\n".join(lines) + "\n"
    other = "ROLLED_BACK" if suggested_resolution(d) == "APPLIED" else "APPLIED"
    lines += ["resolutions:",
              f"  - change: {yaml_scalar(d.change_id)}",
              f"    resolution: {suggested_resolution(d)}  # or {other}",
              f"    expect: {d.state}" if d.state in _STATES else
              "    # no expect: the audit log's state is not one a resolution file can name"]
    if d.target and TARGET_NAME.fullmatch(d.target):
        lines.append(f"    target: {yaml_scalar(d.target)}")
    elif d.target:   # a Flamingock target system's id (`mongo:prod`) no guard can name
        lines.append("    # no target: the audit log's target is not a name a resolution"
                     " file can name")
    return "\n".join(lines) + "\n"


#: a target name, as the resolution schema's `target` pattern says
TARGET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def resolution_file_name(d: Diagnosis, now_ms: int) -> str:
    """`<yyyy-mm-dd>-<change-id>.yaml`, with the id made safe for any file system."""
    day = datetime.fromtimestamp(now_ms / 1000, tz=UTC).strftime("%Y-%m-%d")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", d.change_id).strip("-.") or "change"
    return f"{day}-{safe[:80]}.yaml"


def free_file_name(name: str, taken: Callable[[str], bool]) -> str:
    """`name`, or `name` with `-2`, `-3`, … before `.yaml`: the first that is not `taken`.

    A second incident of one change on one day must not reuse the first file's name:
    that file may already be applied, and applied files are history."""
    if not taken(name):
        return name
    stem = name.removesuffix(".yaml")
    n = 2
    while taken(f"{stem}-{n}.yaml"):
        n += 1
    return f"{stem}-{n}.yaml"
