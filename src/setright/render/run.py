"""Views of `setright run`: progress lines while it works, a one-screen summary after."""

from __future__ import annotations

from typing import Any

from setright.render.style import Style, table

#: detail lines shown per target in the summary, so it fits on one screen
MAX_DETAILS = 8

_TASK_MARK = {"completed": ("✓", "ok"), "cancelled": ("-", "--"),
              "failed": ("✗", "!!"), "failed_retryable": ("↻", "<>")}


def target_line(target: str) -> str:
    return f"Target {target}:"


def apply_line(apply_id: str, attempt: int, max_attempts: int, done: int, total: int,
               resumed: bool) -> str:
    verb = "resuming" if resumed else "running"
    return (f"  {verb} apply {apply_id} (attempt {attempt} of {max_attempts}, "
            f"{done}/{total} operations done)")


def task_line(position: int, change_id: str, state: str, audit_state: str | None,
              detail: str | None, style: Style) -> str:
    unicode_mark, ascii_mark = _TASK_MARK.get(state, ("?", "??"))
    mark = ascii_mark if style.ascii else unicode_mark
    color = "green" if state == "completed" else "yellow" if state == "cancelled" else "red"
    outcome = audit_state or state
    line = f"  {style.paint(mark, color)} [{position}] {change_id}: {outcome}"
    return line + (f" ({detail})" if detail else "")


def reap_line(report: dict[str, Any]) -> str:
    line = f"  reaped apply {report['apply_id']}: {report['reason']}"
    if report.get("change_id"):
        line += f"; {report['change_id']}: {report['settled']}"
    return line


def elapsed(seconds: float) -> str:
    """`0:07`, `1:05`, `1:02:03`: a running clock, as a terminal shows it."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def live_line(target: str, change_id: str, seq: int, total: int, seconds: float,
              done: int, apply_total: int) -> str:
    """The terminal's live line: which operation of which change, for how long."""
    return (f"  {target}  {change_id}  operation {seq} of {total}  running {elapsed(seconds)}"
            f"  [{done}/{apply_total} operations]")


def still_running_line(change_id: str, seq: int, total: int, seconds: float) -> str:
    """The periodic line for piped output (CI logs), instead of a live line."""
    return f"  still running: {change_id} operation {seq} of {total} ({int(seconds)} s)"


def apply_finished_line(apply_id: str, state: str, error: str | None) -> str:
    if state == "failed_retryable":
        return f"  apply {apply_id} failed, will retry: {error}"
    return f"  apply {apply_id} {state}" + (f": {error}" if error and state != "completed" else "")


def run_summary(outcomes: list[dict[str, Any]], style: Style) -> str:
    """A table (one row per target), then what needs attention, then one verdict line."""
    if not outcomes:
        return "No targets to run."
    rows = []
    for o in outcomes:
        attempts = f"{o['attempts']}/{o['max_attempts']}" if o["apply_id"] else ""
        ops = f"{o['operations_done']}/{o['operations_total']}" if o["apply_id"] else ""
        tasks = ", ".join(f"{n} {state}" for state, n in sorted(o["tasks"].items()))
        rows.append([o["target"], o["status"], o["apply_id"], o["apply_state"], attempts, ops,
                     tasks])  # no colour inside tables: escape codes would break the widths
    out = ["", "Run summary:",
           table(["Target", "Result", "Apply", "State", "Attempts", "Operations", "Tasks"],
                 rows, style)]
    for o in outcomes:
        lines = [reap_line(r).strip() for r in o["reaped"]]
        if not o["ok"]:
            if o["failed_change"]:
                lines.append(f"failed change: {o['failed_change']}")
            if o["error"]:
                lines.append(f"Error: {o['error']}")
            lines += [f"  {d}" for d in o["details"]]
        if lines:
            out.append("")
            out.append(f"{o['target']}:")
            shown = lines[:MAX_DETAILS]
            out += [f"  {line}" for line in shown]
            if len(lines) > len(shown):
                out.append(f"  ... {len(lines) - len(shown)} more line(s)")
    bad = [o for o in outcomes if not o["ok"]]
    out.append("")
    if bad:
        out.append(style.paint(f"{len(bad)} of {len(outcomes)} target(s) did not complete: "
                               + ", ".join(f"{o['target']} ({o['status']})" for o in bad) + ".",
                               "red"))
    else:
        out.append(style.paint(f"All {len(outcomes)} target(s) completed or up to date.",
                               "green"))
    return "\n".join(out)


def _drifted(status: dict[str, Any]) -> int:
    """Files that keep `run` from going on: applied ones edited, or an unfinished apply's."""
    return len(status["drift"]) + len(status.get("resume_drift", []))


def status_view(statuses: list[dict[str, Any]], now_iso: str, style: Style) -> str:
    """`setright status`: a table of targets, then what blocks or drifted, per target."""
    if not statuses:
        return "No targets in setright.yaml."
    rows = []
    for s in statuses:
        last = s["last_apply"]
        lock = s["lock"]
        rows.append([
            s["target"], s["pending"],
            f"{last['id']} {last['state']}" if last else "none",
            len(s["issues"]), f"held by {lock['owner']}" if lock else "free",
            f"{_drifted(s)} file(s)" if _drifted(s) else "none",
        ])
    out = [table(["Target", "Pending", "Last apply", "Issues", "Lock", "Drift"], rows, style)]
    for s in statuses:
        lines = []
        if s["pending_changes"]:
            names = s["pending_changes"]
            more = f" and {len(names) - 5} more" if len(names) > 5 else ""
            lines.append(f"pending: {', '.join(names[:5])}{more}")
        last = s["last_apply"]
        live = last and last["state"] in ("pending", "running", "failed_retryable")
        lines += [f"running: {c} (in flight" + (f" in apply {last['id']}" if live else "") + ")"
                  for c in s.get("running_changes", [])]
        if last and last["error"] and last["state"] != "completed":
            lines.append(f"last apply {last['state']} (attempt {last['attempt']} of "
                         f"{last['max_attempts']}): {last['error']}")
        lines += [f"issue: {i['change_id']}: {i['state']} ({i['meaning']})" for i in s["issues"]]
        if s["lock"]:
            lock = s["lock"]
            lines.append(f"lock {lock['lock_id']}: {lock['operation']} by {lock['owner']}, "
                         f"expires {lock['expires_at']}")
        lines += [f"drift: {d['source_file']}: change {d['change_id']} applied with "
                  f"{d['applied_checksum']}, file now {d['file_checksum']}" for d in s["drift"]]
        lines += [f"drift: {d['source_file']}: change {d['change_id']} planned in apply "
                  f"{d['apply_id']} with {d['planned_checksum']}, file now {d['file_checksum']}"
                  if d["source_file"] else f"drift: change {d['change_id']} planned in apply "
                  f"{d['apply_id']}: its change file is gone"
                  for d in s.get("resume_drift", [])]
        if lines:
            out += ["", f"{s['target']}:"] + [f"  {line}" for line in lines]
    blocked = [s["target"] for s in statuses if s["issues"] or _drifted(s)]
    out.append("")
    out.append(f"Blocked: {', '.join(blocked)}." if blocked
               else "No target is blocked.")
    return "\n".join(out)
