"""Views of applies: the list, one apply in detail, and what `applies cancel` did."""

from __future__ import annotations

from typing import Any

from setright.render.style import Style, column_width, table

#: operations listed per task in `applies show` (the JSON view has them all)
MAX_OPERATIONS_PER_TASK = 20
_STATEMENT_WIDTH = 60


def _short(text: str | None, width: int) -> str:
    if not text:
        return ""
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 3] + "..."


def applies_table(applies: list[dict[str, Any]], style: Style, *, filtered: bool = False) -> str:
    """`filtered`: only some applies were asked for, so none is not an empty store."""
    if not applies:
        return "No applies match the filter." if filtered else "No applies in the audit store."
    headers = ["Apply", "Target", "State", "Attempt", "Tasks done", "Created", "Error"]
    body = [[a["id"], a["target"], a["state"], f"{a['attempt']}/{a['max_attempts']}",
             f"{a['tasks_completed']}/{a['tasks_total']}", a["created_at"], a["error"]]
            for a in applies]
    error_width = style.fit([column_width(h, [r[i] for r in body])
                             for i, h in enumerate(headers[:-1])], default=50)
    for row in body:
        row[-1] = _short(row[-1], error_width)
    return table(headers, body, style)


def apply_detail(data: dict[str, Any], now_iso: str, style: Style) -> str:
    """`applies show`: the apply, its lease, its tasks, then each task's operations."""
    a = data["apply"]
    lease = "none"
    if a["lease_token"]:
        live = a["lease_expires_at"] and a["lease_expires_at"] > now_iso
        lease = (f"{a['lease_owner']} (token {a['lease_token']}), "
                 f"{'expires' if live else 'expired'} {a['lease_expires_at']}")
    fields = [
        ("Target", a["target"]), ("State", a["state"]),
        ("Attempt", f"{a['attempt']} of {a['max_attempts']}"), ("Caller", a["caller"]),
        ("Created", a["created_at"]), ("Started", a["started_at"]),
        ("Updated", a["updated_at"]), ("Completed", a["completed_at"]),
        ("Error", a["error"]), ("Lease", lease), ("Plan", a["plan_fingerprint"]),
    ]
    out = [f"Apply {a['id']}"]
    out += [f"  {name + ':':<11}{value}" for name, value in fields if value not in (None, "")]
    tasks = data["tasks"]
    ops_by_change: dict[str, list[dict[str, Any]]] = {}
    for op in data["operations"]:
        ops_by_change.setdefault(op["change_id"], []).append(op)
    out += ["", "Tasks:"]
    headers = ["#", "Change ID", "State", "Attempt", "Operations", "Tx", "Error"]
    body = []
    for t in tasks:
        ops = ops_by_change.get(t["change_id"], [])
        done = sum(1 for op in ops if op["state"] == "completed")
        body.append([t["position"], t["change_id"], t["state"], t["attempt"],
                     f"{done}/{len(ops)}", "yes" if t["transactional"] else "no", t["error"]])
    error_width = style.fit([column_width(h, [r[i] for r in body])
                             for i, h in enumerate(headers[:-1])], default=60)
    for row in body:
        row[-1] = _short(row[-1], error_width)
    out.append(table(headers, body, style) if body else "  (no tasks)")
    for t in tasks:
        ops = ops_by_change.get(t["change_id"], [])
        out += ["", f"Operations of {t['change_id']} (task {t['position']}):"]
        shown = ops[:MAX_OPERATIONS_PER_TASK]
        rows = [[op["seq"], op["state"], _short(op["statement"], _STATEMENT_WIDTH),
                 _short(op["error"], 50)] for op in shown]
        out.append(table(["Seq", "State", "Statement", "Error"], rows, style))
        if len(ops) > len(shown):
            out.append(f"  ... and {len(ops) - len(shown)} more operation(s) (see --json)")
    return "\n".join(out)


def cancelled(data: dict[str, Any]) -> str:
    a = data["apply"]
    out = [f"Cancelled apply {a['id']} on target {a['target']} (was {data['previous_state']}); "
           f"{data['tasks_cancelled']} task(s) cancelled."]
    if data["issues"]:
        out.append("The audit log is unchanged; cancelling resolves no partial state. "
                   f"Target {a['target']} is still blocked by:")
        out += [f"  {i['change_id']}: {i['state']} ({i['meaning']})" for i in data["issues"]]
    else:
        out.append(f"Target {a['target']} has no open issues; 'setright run' plans a new apply.")
    return "\n".join(out)
