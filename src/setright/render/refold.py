"""The summary of `store refold`."""

from __future__ import annotations

from typing import Any

from setright.render.style import Style, table

#: changes listed in the text summary; `--json` lists every one
SHOWN_MOVES = 50


def refold_summary(result: dict[str, Any], style: Style) -> str:
    """How much was folded, then each change whose current audit row moved: before, after."""
    moved = result["moved"]
    lines = [f"Refolded {_count(result['audit_rows'], 'audit row')} of "
             f"{_count(result['changes'], 'change')} in the audit store {result['store']}"
             f" (serial {result['serial']})."]
    if not moved:
        lines.append("Every change kept its current row: the cache matched the audit log.")
        return "\n".join(lines)
    lines.append(style.paint(f"{_count(len(moved), 'change')} now "
                             f"{'has' if len(moved) == 1 else 'have'} another current row:",
                             "yellow"))
    rows = [[m["change_id"], _side(m["before"]), _side(m["after"])]
            for m in moved[:SHOWN_MOVES]]
    lines.append(table(["Change", "Before", "After"], rows, style))
    if len(moved) > SHOWN_MOVES:
        lines.append(f"… and {len(moved) - SHOWN_MOVES} more (--json lists every one).")
    lines.append("Each is recorded as a refold event; run 'setright issue list' to see what "
                 "needs a human now.")
    return "\n".join(lines)


def _side(current: dict[str, Any] | None) -> str:
    return "(none)" if current is None else f"{current['state']} (row {current['audit_id']})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
