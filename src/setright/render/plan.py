"""Views of a plan: terminal text, a Markdown pull-request comment, JSON.

Plain functions of the `Plan` model; none of them reads the store.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from setright.planner.model import SYMBOLS, Action, ActionKind, Outcome, Plan
from setright.render.style import Style

MARKDOWN_BUDGET = 60_000   # GitHub rejects comments over 65,536 characters


LISTED = 10   # conflicting entries named in the summary; the rest are counted


def count(n: int, word: str) -> str:
    """`1 conflict`, `2 conflicts`: every count in a plan view goes through here."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def _summary(plan: Plan) -> str:
    s = plan.summary
    return (f"{s['resolve']} to resolve, {s['redrive']} to redrive, {s['satisfied']} satisfied, "
            f"{count(s['conflicts'], 'conflict')}")


def summary_line(plan: Plan) -> str:
    return f"Plan: {_summary(plan)}."


def blockers(plan: Plan) -> list[str]:
    """Why the plan cannot be applied, one line per kind, naming the files and entries."""
    out = []
    if plan.unreadable_files:
        out.append(f"{count(len(plan.unreadable_files), 'file')} could not be read: "
                   + ", ".join(plan.unreadable_files))
    if plan.invalid_files:
        out.append(f"{count(len(plan.invalid_files), 'file')} failed the checks: "
                   + ", ".join(plan.invalid_files))
    if plan.errors and not (plan.unreadable_files or plan.invalid_files):
        out.append(f"{count(len(plan.errors), 'error')} (listed above)")
    conflicts = [a for a in plan.actions if a.outcome == Outcome.CONFLICT]
    if conflicts:
        named = ", ".join(f"{a.address} ({a.place})" for a in conflicts[:LISTED])
        more = f", and {len(conflicts) - LISTED} more" if len(conflicts) > LISTED else ""
        out.append(f"{count(len(conflicts), 'conflict')}: {named}{more}")
    return out


def way_out(plan: Plan) -> str:
    """How to get a plan that can be applied: which files to fix, edit or remove."""
    broken = sorted({*plan.unreadable_files, *plan.invalid_files})
    conflicting = sorted({a.file for a in plan.actions if a.outcome == Outcome.CONFLICT}
                         - set(broken))
    entries = plan.count(None, Outcome.CONFLICT)
    parts = []
    if broken:
        parts.append("fix or remove " + ", ".join(broken))
    if conflicting:
        files = "file" if len(conflicting) == 1 else "files"
        parts.append(f"edit or remove the conflicting {'entry' if entries == 1 else 'entries'}"
                     f" (or the {files}) in {', '.join(conflicting)}")
    if not parts:
        parts.append("fix what the errors above name")
    return "To go on: " + ", and ".join(parts) + "; then run 'setright plan' again."


def _cannot_apply(plan: Plan) -> list[str]:
    return ["This plan cannot be applied:", *(f"  {line}" for line in blockers(plan)),
            way_out(plan)]


def _symbol(action: Action, style: Style) -> str:
    unicode, ascii_ = SYMBOLS[(action.kind, action.outcome)]
    return ascii_ if style.ascii else unicode


def _arrow(style: Style) -> str:
    return "->" if style.ascii else "→"


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
    lines = [f"file: {action.place}" + (f"   ticket: {action.entry['ticket']}"
                                           if action.entry.get("ticket") else "")]
    note = (action.entry.get("note") or "").strip()
    if note:  # one detail, however many lines (each view says how they continue)
        lines.append(f"note: {note}")
    if action.kind == ActionKind.REDRIVE and action.remaining_work is not None:
        would = "would " if action.outcome == Outcome.CONFLICT else ""
        reopen = _ranges(action.remaining_work, arrow)
        lines += [f"{would}reopen: {r}" for r in reopen] or [f"{would}reopen: nothing"]
        lines += [f"{would}keep:   task {w['position']} {w['change_id']} (completed)"
                  for w in action.completed_work or []]
    lines += action.messages
    # drift the messages already name (a conflict's losses) is not repeated
    lines += [f"drift: {d}" for d in action.drift if f"  {d}" not in action.messages]
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
    line = f"{_symbol(action, style)} {action.address}   {_change(action, style)}{target}"
    return line.replace("\n", "\\n")   # one line: a state the store holds may hold a break


def action_lines(action: Action, style: Style) -> list[str]:
    """One action: its coloured header line, then its details indented."""
    color = {Outcome.CHANGE: "yellow", Outcome.SATISFIED: "green",
             Outcome.CONFLICT: "red"}[action.outcome]
    details = (line.replace("\n", "\n            ") for line in action_details(action, style))
    # a detail's further lines (a note's) sit under its text: none starts a line of the plan
    return ["  " + style.paint(_header(action, style), color), *(f"      {d}" for d in details)]


def plan_text(plan: Plan, style: Style) -> str:
    out: list[str] = [f"Warning: {w}" for w in plan.warnings]
    out += [f"Error: {e}" for e in plan.errors]
    if out:
        out.append("")
    if not plan.actions:
        if not plan.errored:   # with errors, "no changes" would not be true: say what is
            out += ["No changes. Every resolution-file entry is already in the ledger."
                    if plan.resolution_files else "No changes: there are no resolution files.",
                    ""]
        out.append(summary_line(plan))
        return "\n".join(out + (_cannot_apply(plan) if plan.errored else []))
    out += ["setright will perform the following actions:", ""]
    for action in plan.actions:
        out += [*action_lines(action, style), ""]
    out.append(summary_line(plan))
    return "\n".join(out + (_cannot_apply(plan) if plan.errored else []))


#: what Markdown (GitHub's) builds structure from: HTML (`</details>` would close the
#: fold), code spans, links and table cells; emphasis is left alone
_MD_STRUCTURE = re.compile(r"[\\`<>\[\]|]")
#: `@someone` and `#123`, which GitHub turns into a notification or a cross-reference
_MD_REFERENCE = re.compile(r"([@#])(?=\w)")


def _md_escape(text: str) -> str:
    """Text from a file or the store as Markdown prose that renders as that text: on one
    line, each structural character backslash-escaped, and a mention or issue reference
    broken by an empty HTML comment (so a note's `@team` pings nobody on every push)."""
    escaped = _MD_STRUCTURE.sub(lambda m: "\\" + m[0], text).replace("\n", " ")
    return _MD_REFERENCE.sub(r"\1<!-- -->", escaped)


def _md_code(text: str, *, cell: bool = False) -> str:
    """`text` as one code span, however many backticks it holds (the fence is longer than
    its longest run); in a table `cell`, its `|` escaped, as GitHub's tables need."""
    text = text.replace("\n", " ")
    if cell:
        text = text.replace("|", "\\|")
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def plan_markdown(plan: Plan) -> str:
    """A PR comment: summary and conflicts first, a table, details folded; never over budget."""
    style = Style(ascii=False)
    head = [f"### setright plan: {_summary(plan)}", ""]
    if plan.errored:
        head += ["**This plan cannot be applied:**", "",
                 *_capped(blockers(plan), "- {}"), "", *_capped([way_out(plan)], "{}")]
    elif plan.has_changes:
        head.append("Merging applies exactly these actions (`setright apply`).")
    else:
        head.append("Nothing to change.")
    head.append("")
    head += _capped(plan.warnings, "> **Warning:** {}")
    head += _capped(plan.errors, "> **Error:** {}")
    conflicts = [a for a in plan.actions if a.outcome == Outcome.CONFLICT]
    sections: list[list[str]] = []
    if conflicts:
        sections.append(["#### Conflicts", ""])
        for a in conflicts:
            first = a.messages[0] if a.messages else ""
            sections.append([f"- {_md_code(a.address)} ({_md_escape(a.place)}): "
                             + _md_escape(first)]
                            + [f"  - {_md_escape(m)}" for m in a.messages[1:]])
    drifted = [a for a in plan.actions if a.drift]
    if drifted:   # the target's schema since the failure: a reviewer must see it
        sections.append(["", "#### Schema drift since the apply failed", ""])
        for a in drifted:
            sections.append([f"- {_md_code(a.address)}:"]
                            + [f"  - {_md_escape(d)}" for d in a.drift])
    if plan.actions:
        sections.append(["", "| | Address | Change | File |", "|---|---|---|---|"])
    for a in plan.actions:
        sections.append([f"| {_symbol(a, style)} | {_md_code(a.address, cell=True)} | "
                         f"{_md_escape(_change(a, style))} | {_md_escape(a.place)} |"])
    details = []
    for a in plan.actions:
        details.append("\n".join([f"**{_md_code(a.address)}**", "",
                                  *(f"- {_md_escape(ln)}" for ln in action_details(a, style)),
                                  ""]))
    if not plan.actions:
        return "\n".join([*head, *("\n".join(b) for b in sections), "", summary_line(plan)]) + "\n"
    opening = f"\n<details><summary>Details of {count(len(plan.actions), 'action')}</summary>\n"
    return _fit("\n".join(head), sections, opening, details, summary_line(plan))


#: what each list above the table (blockers, warnings, errors) may take of the budget
HEAD_LIST_BUDGET = MARKDOWN_BUDGET // 8
#: the longest line of such a list (3,000 unreadable files' names make one line)
HEAD_LINE_LIMIT = 1_000


def _capped(lines: Sequence[str], form: str) -> list[str]:
    """`form` of each line, escaped, while the list fits its share of the budget: a long
    line shortened (before escaping, so no escape is cut), then how many were left out."""
    out, used = [], 0
    for index, line in enumerate(lines):
        if len(line) > HEAD_LINE_LIMIT:
            line = line[:HEAD_LINE_LIMIT - 1] + "…"
        text = form.format(_md_escape(line))
        if used + len(text) + 1 > HEAD_LIST_BUDGET:
            out.append(form.format(f"_… {count(len(lines) - index, 'more line')} not shown: "
                                   "see `setright plan`._"))
            break
        out.append(text)
        used += len(text) + 1
    return out


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
        out.append(f"\n_… {count(left, 'more row')} not shown: see the JSON plan "
                   "(`setright plan --format json`)._")
    shown_details = [opening]
    for index, block in enumerate(details):
        if used + len(block) + 1 > MARKDOWN_BUDGET:
            shown_details.append(f"_… details of {count(len(details) - index, 'more action')}"
                                 " not shown._")
            break
        shown_details.append(block)
        used += len(block) + 1
    out.append("\n".join(shown_details))
    out.append("</details>\n")
    out.append(footer)
    return "\n".join(out) + "\n"


def plan_json(plan: Plan) -> dict[str, Any]:
    """The plan as a dict; `render.plan_json.plan_json_text` writes its JSON faster."""
    return plan.as_dict()
