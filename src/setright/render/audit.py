"""Views of the audit log: current state per change, or the raw history."""

from __future__ import annotations

from typing import Any

from setright.render.style import Style, table


def current_table(rows: list[dict[str, Any]], style: Style, *, filtered: bool = False) -> str:
    """`filtered`: only some changes were asked for, so none is not an empty store."""
    if not rows:
        return "No changes match the filter." if filtered else "No changes in the audit store."
    body = [[r["change_id"], r["state"], r["author"], r["target_system_id"], r["created_at"]]
            for r in rows]
    return table(["Change ID", "State", "Author", "Target", "Time"], body, style)


def history_table(rows: list[dict[str, Any]], style: Style, *, filtered: bool = False) -> str:
    if not rows:
        return "No audit rows match the filter." if filtered else "No audit rows."
    body = [[r["id"], r["change_id"], r["state"], r["author"], r["target_system_id"],
             r["created_at"], r["execution_id"]] for r in rows]
    return table(["#", "Change ID", "State", "Author", "Target", "Time", "Execution"], body, style)
