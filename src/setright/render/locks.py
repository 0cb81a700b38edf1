"""Views of `setright_locks`."""

from __future__ import annotations

from typing import Any

from setright.render.style import Style, table


def locks_table(locks: list[dict[str, Any]], now_iso: str, style: Style) -> str:
    if not locks:
        return "No locks held."
    body = [[lk["lock_id"], lk["name"], lk["operation"], lk["owner"], lk["acquired_at"],
             lk["expires_at"] + (" (expired)" if lk["expires_at"] <= now_iso else "")]
            for lk in locks]
    return table(["ID", "Name", "Operation", "Who", "Created", "Expires"], body, style)


def released(lock: dict[str, Any], forced: bool) -> str:
    how = "Force-released" if forced else "Released"
    return f"{how} lock {lock['lock_id']} ({lock['name']}, held by {lock['owner']})."
