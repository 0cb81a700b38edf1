"""`setright history`: one block per applied entry or imperative write, newest first."""

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


REASON_WIDTH = 100  # text shows the start of a long reason; --json has all of it


def _one_line(text: str, ellipsis: str) -> str:
    line = " ".join(text.split())
    if len(line) <= REASON_WIDTH:
        return line
    return line[:REASON_WIDTH - len(ellipsis)].rstrip() + ellipsis


def _block(r: dict[str, Any], arrow: str, ellipsis: str) -> list[str]:
    out = [f"{r['applied_at']}  {r['entry_key']}  {r['outcome']}  by {r['actor']}"]
    if r["source"] == "cli":
        out.append(f"    source: cli (setright {r['command']})")
    else:
        commit = f" @ {r['commit_sha'][:12]}" if r["commit_sha"] else " (not committed)"
        out.append(f"    file:   {r['resolution_file']}{commit}")
    if r.get("ticket"):
        out.append(f"    ticket: {r['ticket']}")
    if r.get("reason"):
        out.append(f"    reason: {_one_line(r['reason'], ellipsis)}")
    if r.get("pull_request"):
        out.append(f"    pr:     {r['pull_request']}")
    out.append(f"    plan:   {r['plan_id']}")
    out += [f"    wrote:  {w}" for w in _writes(r, arrow)]
    return out


def history_text(rows: list[dict[str, Any]], style: Style, *, more: int = 0,
                 filtered: bool = False) -> str:
    """`more`: entries cut by `--limit`; `filtered`: `-c`/`--since` narrowed the list."""
    if not rows:
        return ("No entry matches." if filtered
                else "Nothing has been applied yet (no resolution file, audit fix or redrive).")
    arrow, ellipsis = ("->", "...") if style.ascii else ("→", "…")
    out: list[str] = []
    for r in rows:
        out += [*_block(r, arrow, ellipsis), ""]
    if more:
        out.append(f"{more} more; use --limit N to see more (--limit 0: all).")
    return "\n".join(out).rstrip("\n")
