"""Views of a plan: terminal text, a Markdown pull-request comment, JSON.

Plain functions of the `Plan` model; none of them reads the store.
"""

from __future__ import annotations

from typing import Any

from setright.planner.model import SYMBOLS, Action, ActionKind, Outcome, Plan
from setright.render.style import Style

MARKDOWN_BUDGET = 60_000   # GitHub rejects comments over 65,536 characters


def summary_line(plan: Plan) -> str:
    s = plan.summary
    return (f"Plan: {s['resolve']} to resolve, {s['redrive']} to redrive, "
            f"{s['satisfied']} satisfied, {s['conflicts']} conflicts.")


def _symbol(action: Action, style: Style) -> str:
    unicode, ascii_ = SYMBOLS[(action.kind, action.outcome)]
    return ascii_ if style.ascii else unicode


def _arrow(style: Style) -> str:
    return "->" if style.ascii else "→"


def _where(action: Action) -> str:
    line = action.entry.get("line")
    return f"{action.file}:{line}" if line else action.file


def _ranges(work: list[dict[str, Any]], arrow: str) -> list[str]:
    out = []
    for w in work:
        if w["operations_to_run"]:
            ops = (f"operation {w['from_seq']}" if w["from_seq"] == w["to_seq"]
                   else f"operations {w['from_seq']}–{w['to_seq']}")
            moves = (f"{w['task_state']} {arrow} failed_retryable"
                     if w["task_state"] in ("failed", "cancelled") else w["task_state"])
            out.append(f"task {w['position']} {w['change_id']} ({moves}): {ops} of "
                       f"{w['operations_total']}")
        else:
            out.append(f"task {w['position']} {w['change_id']} ({w['task_state']}): "
                       "no operation left to run")
    return out


def action_details(action: Action, style: Style) -> list[str]:
    """The lines under an action's header: file, ticket, redrive work, messages."""
    arrow = _arrow(style)
    lines = [f"file: {_where(action)}" + (f"   ticket: {action.entry['ticket']}"
                                           if action.entry.get("ticket") else "")]
    if action.entry.get("note"):
        lines.append(f"note: {action.entry['note']}")
    if action.kind == ActionKind.REDRIVE and action.remaining_work is not None:
        would = "would " if action.outcome == Outcome.CONFLICT else ""
        reopen = _ranges(action.remaining_work, arrow)
        lines += [f"{would}reopen: {r}" for r in reopen] or [f"{would}reopen: nothing"]
        lines += [f"{would}keep:   task {w['position']} {w['change_id']} (completed)"
                  for w in action.completed_work or []]
    lines += action.messages
    return lines


def _change(action: Action, style: Style) -> str:
    """What the action does to its subject: `before → after`, `already …`, or `conflict`."""
    if action.outcome == Outcome.CHANGE:
        return f"{action.before} {_arrow(style)} {action.after}"
    if action.outcome == Outcome.SATISFIED:
        return (f"already {action.before}" if action.kind == ActionKind.RESOLVE
                else f"already redriven ({action.before})")
    return "conflict"


def _header(action: Action, style: Style) -> str:
    target = f"   (target {action.target})" if action.target else ""
    return f"{_symbol(action, style)} {action.address}   {_change(action, style)}{target}"


def action_lines(action: Action, style: Style) -> list[str]:
    """One action: its coloured header line, then its details indented."""
    color = {Outcome.CHANGE: "yellow", Outcome.SATISFIED: "green",
             Outcome.CONFLICT: "red"}[action.outcome]
    return ["  " + style.paint(_header(action, style), color),
            *(f"      {line}" for line in action_details(action, style))]


def plan_text(plan: Plan, style: Style) -> str:
    out: list[str] = [f"Warning: {w}" for w in plan.warnings]
    out += [f"Error: {e}" for e in plan.errors]
    if out:
        out.append("")
    if not plan.actions:
        out.append("No changes. Every resolution-file entry is already in the ledger."
                   if plan.resolution_files else "No changes: there are no resolution files.")
        out += ["", summary_line(plan)]
        if plan.errored:
            out.append("This plan has conflicts or errors and cannot be applied.")
        return "\n".join(out)
    out += ["setright will perform the following actions:", ""]
    for action in plan.actions:
        out += [*action_lines(action, style), ""]
    out.append(summary_line(plan))
    if plan.errored:
        out.append("This plan has conflicts or errors and cannot be applied.")
    return "\n".join(out)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def plan_markdown(plan: Plan) -> str:
    """A PR comment: summary and conflicts first, a table, details folded; never over budget."""
    style = Style(ascii=False)
    s = plan.summary
    head = [f"### setright plan: {s['resolve']} to resolve, {s['redrive']} to redrive, "
            f"{s['satisfied']} satisfied, {s['conflicts']} conflicts", ""]
    if plan.errored:
        head.append("**This plan cannot be applied** until the conflicts below are resolved.")
    elif plan.has_changes:
        head.append("Merging applies exactly these actions (`setright apply`).")
    else:
        head.append("Nothing to change.")
    head.append("")
    head += [f"> **Warning:** {_md_escape(w)}" for w in plan.warnings]
    head += [f"> **Error:** {_md_escape(e)}" for e in plan.errors]
    conflicts = [a for a in plan.actions if a.outcome == Outcome.CONFLICT]
    sections: list[list[str]] = []
    if conflicts:
        sections.append(["#### Conflicts", ""])
        for a in conflicts:
            sections.append([f"- `{a.address}` ({_where(a)}): " + _md_escape(a.messages[0]
                                                                             if a.messages else "")]
                            + [f"  - {_md_escape(m)}" for m in a.messages[1:]])
    if plan.actions:
        sections.append(["", "| | Address | Change | File |", "|---|---|---|---|"])
    for a in plan.actions:
        sections.append([f"| {_symbol(a, style)} | `{_md_escape(a.address)}` | "
                         f"{_md_escape(_change(a, style))} | {_md_escape(_where(a))} |"])
    details = []
    for a in plan.actions:
        details.append("\n".join([f"**`{a.address}`**", "",
                                  *(f"- {_md_escape(ln)}" for ln in action_details(a, style)),
                                  ""]))
    if not plan.actions:
        return "\n".join([*head, *("\n".join(b) for b in sections), "", summary_line(plan)]) + "\n"
    opening = f"\n<details><summary>Details of {len(plan.actions)} actions</summary>\n"
    return _fit("\n".join(head), sections, opening, details, summary_line(plan))


def _fit(head: str, sections: list[list[str]], opening: str, details: list[str],
         footer: str) -> str:
    """Add whole lines while they fit the budget; count what was left out instead of cutting."""
    out, used, left = [head], len(head) + len(opening) + len(footer) + 200, 0
    for block in sections:
        text = "\n".join(block)
        if used + len(text) + 1 > MARKDOWN_BUDGET:
            left += 1
            continue
        out.append(text)
        used += len(text) + 1
    if left:
        out.append(f"\n_… {left} more rows not shown: see the JSON plan "
                   "(`setright plan --format json`)._")
    shown_details = [opening]
    for index, block in enumerate(details):
        if used + len(block) + 1 > MARKDOWN_BUDGET:
            shown_details.append(f"_… details of {len(details) - index} more actions not shown._")
            break
        shown_details.append(block)
        used += len(block) + 1
    out.append("\n".join(shown_details))
    out.append("</details>\n")
    out.append(footer)
    return "\n".join(out) + "\n"


def plan_json(plan: Plan) -> dict[str, Any]:
    return plan.as_dict()
