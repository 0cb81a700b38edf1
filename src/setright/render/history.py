"""The ledger as `setright history` shows it: one block per applied entry, newest first."""

from __future__ import annotations

from typing import Any

from setright.render.style import Style


def _writes(row: dict[str, Any], arrow: str) -> list[str]:
    parts = []
    for e in row["events"]:
        if e["kind"] == "operation":
            continue  # counted below; 'applies show' lists them
        subject = e["change_id"] if e["kind"] in ("mark", "task") else e["apply_id"]
        parts.append(f"{e['kind']} {subject}: {e['old_state']} {arrow} {e['new_state']}")
    ops = sum(1 for e in row["events"] if e["kind"] == "operation")
    if ops:
        parts.append(f"{ops} operation(s) {arrow} failed_retryable")
    return parts or ["nothing written (satisfied)"]


def history_text(rows: list[dict[str, Any]], style: Style) -> str:
    if not rows:
        return "No resolution has been applied yet."
    arrow = "->" if style.ascii else "→"
    out = []
    for r in rows:
        commit = f" @ {r['commit_sha'][:12]}" if r["commit_sha"] else " (not committed)"
        out += [f"{r['applied_at']}  {r['entry_key']}  {r['outcome']}  by {r['actor']}",
                f"    file:   {r['resolution_file']}{commit}",
                f"    plan:   {r['plan_id']}"]
        out += [f"    wrote:  {w}" for w in _writes(r, arrow)]
        out.append("")
    return "\n".join(out).rstrip("\n")
