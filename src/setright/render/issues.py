"""Views of issues: the `issue list` table and JSON, the `issue get` report."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from setright.render.style import Style, column_width, objects_json_parts, table, to_json
from setright.store.issue_list import IssueSummary, issue_columns

if TYPE_CHECKING:
    from setright.db.settled import LockSession
    from setright.planner.drift import DriftReport
    from setright.store.diagnosis import Diagnosis


def _cell(text: str | None, width: int = 48) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def running_section(running: list[Diagnosis], style: Style) -> list[str]:
    """`RUNNING (n)`: STARTED changes whose runner still holds a live lease or lock."""
    if not running:
        return []
    rows = [[d.change_id, d.state, f"lock held by {d.lock_owner} until {d.lock_until}",
             d.target or ""] for d in running]
    return ["", f"RUNNING ({len(running)})",
            table(["Change ID", "State", "Lock", "Target"], rows, style),
            "Not issues: their runner may still finish them. Marking one is refused while "
            "its lock is live."]


def issue_list(issues: Sequence[IssueSummary], style: Style,
               running: list[Diagnosis] | None = None) -> str:
    running = running or []
    if not issues:
        return "\n".join(["No issues found.", *running_section(running, style)])
    error_width = style.fit([column_width("Change ID", [d.change_id for d in issues]),
                             column_width("State", [d.state for d in issues]),
                             column_width("Target", [d.target or "" for d in issues])],
                            default=48)
    rows = [[d.change_id, d.state, _cell(d.error_summary, error_width), d.target or ""]
            for d in issues]
    return "\n".join([
        f"ISSUES FOUND ({len(issues)})",
        table(["Change ID", "State", "Error", "Target"], rows, style),
        "Use 'setright issue get' to process issues one by one, or",
        "'setright issue get -c <change-id>' for details.",
        *running_section(running, style),
    ])


#: The keys of an `issue list --json` issue, in their order.
ISSUE_KEYS = ("change_id", "state", "target", "error_summary", "created_at", "apply_id",
              "task_attempt", "tx_strategy", "recovery_strategy", "operations_completed",
              "operations_total", "partial_state_possible", "reason")


def _running_json(running: list[Diagnosis]) -> list[dict[str, Any]]:
    return [{
        "change_id": d.change_id, "state": d.state, "target": d.target,
        "created_at": d.created_at, "apply_id": d.apply_id, "lock_owner": d.lock_owner,
        "lock_until": d.lock_until, "reason": d.reason,
    } for d in running]


def issue_list_json(issues: Sequence[IssueSummary],
                    running: list[Diagnosis] | None = None) -> dict[str, Any]:
    """What `issue list --json` writes (`issue_list_json_parts` writes it without building it)."""
    return {"issues": [{key: getattr(d, key) for key in ISSUE_KEYS} for d in issues],
            "running": _running_json(running or [])}


def issue_list_json_parts(issues: Sequence[IssueSummary],
                          running: list[Diagnosis] | None = None) -> Iterator[str]:
    """`to_json(issue_list_json(issues, running))` and a newline, in parts of a megabyte at
    most, the issues written column by column."""
    columns = issue_columns(issues)
    # no JSON text holds a raw newline: its lines are re-indented by one level as they are
    running_text = to_json(_running_json(running or [])).replace("\n", "\n  ")
    return objects_json_parts(ISSUE_KEYS, [columns[key] for key in ISSUE_KEYS], "\n  ",
                              before='{\n  "issues": ',
                              after=',\n  "running": ' + running_text + "\n}\n")


def not_an_issue(d: Diagnosis) -> str:
    """`Change 'x' is not an issue: STATE (why)`."""
    why = {"done": "", "rolled-back": " (rolled back: it re-runs next time)"}.get(d.reason)
    if why is None:
        why = f" ({d.reason_text}"
        if d.lock_owner:
            why += f"; lock held by {d.lock_owner} until {d.lock_until}"
        elif d.apply_id and d.apply_state in ("pending", "running", "failed_retryable"):
            why += f"; apply {d.apply_id} is still {'retrying' if d.apply_state == 'failed_retryable' else d.apply_state}"
        why += ")"
    return f"Change '{d.change_id}' is not an issue: {d.state}{why}"


def _kv(pairs: list[tuple[str, str | None]]) -> list[str]:
    width = max(len(k) for k, _ in pairs) + 1
    # one line each: a value from the store (a state, an author) may hold a line break
    return [f"  {(k + ':').ljust(width)} {v}".replace("\n", "\\n") for k, v in pairs
            if v is not None]


def _operations_line(d: Diagnosis) -> str | None:
    if d.operations_total is None:
        return "unknown (no setright apply recorded this change)"
    if d.operations_unverified:
        return (f"{d.operations_completed} of {d.operations_total} recorded as committed in"
                " the store (the target markers could not be read: operation"
                f" {d.current_operation} may have committed too)")
    return (f"{d.operations_completed} of {d.operations_total} operations committed"
            " (settled by the target markers)")


#: committed operations shown by `issue get` before "and N more"
SHOWN_COMMITTED = 3


def _committed_line(d: Diagnosis) -> str | None:
    """What the committed operations did, for a change that left partial state."""
    if not d.partial_state_possible or not d.committed_operations:
        return None
    shown = [f"operation {seq}: {_cell(statement, 70)}"
             for seq, statement in d.committed_operations[:SHOWN_COMMITTED]]
    more = len(d.committed_operations) - SHOWN_COMMITTED
    if more > 0:
        shown.append(f"and {more} more")
    # each but the last ends with one `;`: a statement's own (SQLite keeps it), else one added
    return " ".join([p if p.endswith(";") else p + ";" for p in shown[:-1]] + shown[-1:])


def diagnostics(d: Diagnosis) -> list[str]:
    apply = None
    if d.apply_id:
        apply = f"{d.apply_id} ({d.apply_state}, attempt {d.attempt} of {d.max_attempts})"
    tx = None if d.transactional is None else (
        f"yes ({d.tx_strategy})" if d.transactional else f"no ({d.tx_strategy or 'NON_TX'})")
    statement = None
    if d.current_operation is not None:
        verb = "running" if d.state == "STARTED" else "failed"
        statement = f"operation {d.current_operation} ({verb}): {_cell(d.current_statement, 70)}"
    if d.partial_state_possible:
        if d.left_behind:
            partial = f"yes: {d.left_behind}"
        elif d.unsettled:
            partial = f"POSSIBLE: operation {d.current_operation} is unknown: {d.unsettled}"
        elif d.operations_completed:
            partial = (f"yes: {d.operations_completed} of {d.operations_total} operations "
                       f"committed in {d.target}")
        elif d.state == "ROLLBACK_FAILED":
            partial = "POSSIBLE: the rollback script failed part-way"
        else:
            partial = "POSSIBLE: nothing proves otherwise"
    else:
        partial = ("no: the database rolled the transaction back" if d.transactional
                   else "no: no operation committed")
    runner = None
    if d.runner:
        runner = d.runner + (f", lease expired {d.lease_expires_at}" if d.lease_expires_at else "")
    if d.redrive.possible:
        redrive = f"possible until {d.redrive.until} (redrive.max_age), if the fresh plan matches"
    else:
        redrive = f"not possible: {d.redrive.why_not}"
    return ["DIAGNOSTIC INFORMATION", *_kv([
        ("Apply", apply), ("Transactional", tx), ("Operations", _operations_line(d)),
        ("Committed", _committed_line(d)), ("Statement", statement),
        ("Partial state", partial), ("Runner", runner),
        ("Redrive", redrive), ("Why an issue", d.reason_text),
    ])]


def _first_line(text: str | None) -> str:
    return next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")


def _committed(k: int, n: int | None = None) -> str:
    of = f" of {n}" if n else ""
    return f"operation 1{of} committed" if k == 1 else f"operations 1–{k}{of} committed"


def guidance(d: Diagnosis) -> list[str]:
    """Steps tailored to the case, each naming what to check in the target."""
    target = d.target or "the target"
    k, n = d.operations_completed, d.operations_total
    steps: list[str]
    if d.reason == "retry-budget-exhausted":
        steps = [
            f"No partial state: {target} rolled back every attempt ({d.attempt} of "
            f"{d.max_attempts}).",
            f"Fix the cause in {target}: {_cell(_first_line(d.error), 90)}",
            f"Then redrive apply {d.apply_id}: it re-runs only the failed work.",
            "Or mark it ROLLED_BACK to leave it to a new apply, or APPLIED if you made the"
            " change by hand.",
        ]
    elif d.state == "ROLLBACK_FAILED":
        steps = [
            f"The change failed, then its rollback failed: {target} may hold part of the"
            " change AND part of the rollback.",
            f"Inspect {target} for every object the change and its rollback touch.",
            "Finish undoing it by hand, then mark ROLLED_BACK (it re-runs next time);",
            "or finish applying it by hand, then mark APPLIED.",
        ]
    elif d.state == "STARTED":
        if n is None:
            first = "The runner stopped mid-change; nothing records how far it got."
        else:
            done = _committed(k, n) if k else f"none of its {n} operations committed"
            if d.operations_unverified:
                recorded = (f"{_committed(k, n).replace(' committed', '')} as committed" if k
                            else f"none of its {n} operations as committed")
                first = (f"The runner stopped mid-change; the store records {recorded}, but"
                         f" {target} could not be read to confirm: operation"
                         f" {d.current_operation} may have committed too.")
            else:
                first = f"The runner stopped mid-change: {done} (from the target markers)."
        if d.left_behind:
            first += (f" Operation {d.current_operation} did not finish and left this in"
                      f" {target}: {d.left_behind}.")
        elif d.unsettled:
            first += (f" Whether operation {d.current_operation} took effect is unknown:"
                      f" {d.unsettled}.")
        steps = [
            first,
            f"Check in {target} whether the remaining operations took effect.",
            "Complete the remaining operations by hand, then mark APPLIED;",
            "or revert the committed ones, then mark ROLLED_BACK (it re-runs next time).",
        ]
        if d.redrive.possible:
            steps.append(f"Or redrive apply {d.apply_id}: it resumes at operation "
                         f"{d.current_operation}.")
    elif d.partial_state_possible:
        if d.left_behind:
            first = (f"Operation {d.current_operation} failed outside a transaction and left"
                     f" this in {target}: {d.left_behind}.")
        elif k:
            first = (f"{_committed(k).capitalize()} in {target}; operation {d.current_operation} failed"
                     " (the Error above).")
        else:
            first = f"No record of how far it got in {target}: assume partial state."
        steps = [
            first,
            f"Check in {target} what those operations changed.",
            "Complete the remaining operations by hand, then mark APPLIED;",
            "or revert what committed, then mark ROLLED_BACK (it re-runs next time).",
        ]
        if d.redrive.possible:
            steps.append(f"Or fix the cause and redrive apply {d.apply_id}: it resumes at "
                         f"operation {d.current_operation}.")
    else:
        steps = [
            f"Operation {d.current_operation or 1} failed before anything committed:"
            f" {target} is unchanged by this change.",
            f"Fix the cause: {_cell(_first_line(d.error), 80)}",
            "Then mark ROLLED_BACK so the next run executes it again"
            + (f", or redrive apply {d.apply_id}." if d.redrive.possible else "."),
        ]
    return ["RESOLUTION GUIDANCE", *(f"  {i}. {s}" for i, s in enumerate(steps, 1))]


def shell_word(text: str) -> str:
    """`text` as one shell word to copy: `shlex.quote`, or for text with a line break or
    another unprintable character, bash's `$'…'` with each such character escaped, so a
    suggested command stays on its line and names the id exactly."""
    import shlex

    if text.isprintable():
        return shlex.quote(text)
    escaped = "".join(
        "\\" + c if c in "\\'" else c if c.isprintable()
        else "\\n" if c == "\n" else f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF
        else f"\\U{ord(c):08x}" for c in text)
    return f"$'{escaped}'"


def resolve_with(d: Diagnosis, yaml_text: str, file_name: str,
                 folder: str = "resolutions") -> list[str]:
    from setright.resolutions.template import suggested_resolution

    lines = ["RESOLVE WITH",
             f"  Commit {folder}/{file_name} (or run 'setright issue get -c "
             f"{shell_word(d.change_id)} --write'):", ""]
    lines += ["    " + ln for ln in yaml_text.splitlines()]
    lines += ["", "  Or imperatively:"]
    if d.redrive.possible and d.apply_id:
        lines.append(f"    setright redrive {d.apply_id} --reason \"…\"")
    lines.append(f"    setright audit fix -c {shell_word(d.change_id)} -r "
                 f"{suggested_resolution(d)} --reason \"…\"")
    return lines


def next_issue(issues: Sequence[IssueSummary], change_id: str) -> str | None:
    """The issue after `change_id` in `issue list` order (wrapping round), if any other."""
    ids = [d.change_id for d in issues]
    if change_id in ids:
        k = ids.index(change_id)
        ids = ids[k + 1:] + ids[:k]
    return ids[0] if ids else None


def drift_section(d: Diagnosis, report: DriftReport) -> list[str]:
    """The failed apply's target now against its failure time, as a redrive will see it."""
    lines = ["SCHEMA DRIFT SINCE THE FAILURE"]
    if report.drift is None:
        return [*lines, f"  {report.problem}"]
    if not report.drift:
        return [*lines, f"  none: the schema of {d.target} is as apply {d.apply_id} left it"]
    lines += [f"  {line}" for line in report.drift.lines]
    if report.drift.lost:
        lines.append("  a redrive is refused while this lasts, unless its entry says "
                     "accept_drift: true")
    return lines


def session_section(d: Diagnosis, session: LockSession) -> list[str]:
    """A STARTED change whose runner's database session still runs: not over yet."""
    return ["STILL RUNNING IN THE TARGET",
            f"  {session.who} still holds the runner's session lock on {d.target}:",
            "  the runner is gone, but its statement may still be running there.",
            f"  A mark is refused until it ends: wait, or end it ({session.end_with})."]


def issue_get(d: Diagnosis, yaml_text: str, file_name: str, remaining: int,
              following: str | None = None, drift: DriftReport | None = None,
              folder: str = "resolutions", session: LockSession | None = None) -> str:
    """`folder`: the resolution files' folder as the project names it (`resolutions:`)."""
    header = [f"ISSUE: {d.change_id}".replace("\n", "\\n"), *_kv([  # one line, whatever the id
        ("Status", f"{d.state} ({d.meaning})"), ("Target System", d.target or "unknown"),
        ("Author", d.author or "unknown"), ("Started", d.started_at or "unknown"),
        ("Error", _cell(d.error_summary, 100) or "none recorded"),
    ])]
    parts = [header, diagnostics(d), *([session_section(d, session)] if session else []),
             *([drift_section(d, drift)] if drift else []),
             guidance(d), resolve_with(d, yaml_text, file_name, folder)]
    out = "\n\n".join("\n".join(p) for p in parts)
    if remaining and following is not None:
        out += (f"\n\nNext: setright issue get -c {shell_word(following)}   "
                f"({remaining} more issue{'s' * (remaining > 1)})")
    return out


def issue_json(d: Diagnosis, yaml_text: str, file_name: str, remaining: int,
               following: str | None = None, drift: DriftReport | None = None,
               session: LockSession | None = None) -> dict[str, Any]:
    data = {**d.as_dict(), "guidance": guidance(d)[1:], "resolution_file": file_name,
            "resolution_yaml": yaml_text, "remaining_issues": remaining,
            "next_issue": following}
    if session is not None:   # only while a STARTED change's runner session still runs
        data["runner_session"] = {"who": session.who, "end_with": session.end_with}
    if drift is not None:   # only for a change whose apply failed
        data["schema_drift"] = {
            "added": drift.drift.added if drift.drift else [],
            "lost": drift.drift.lost if drift.drift else [],
            "problem": drift.problem}
    return data
