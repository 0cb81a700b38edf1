"""The view of `setright validate`: one line per problem, then a summary line.

Problems read `file:line:column: $.json.path: message` (errors) or
`file:line:column: warning: $.json.path: message`, the layout compilers use, so
editors and CI problem matchers can jump to the place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from setright.render.style import Style

if TYPE_CHECKING:
    from setright.errors import Problem
    from setright.resolutions.checks import ValidationReport


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def problem_line(problem: Problem, label: str = "") -> str:
    where = f" {problem.path}:" if problem.path and problem.path != "$" else ""
    tag = f" {label}:" if label else ""
    return f"{problem.location()}:{tag}{where} {problem.message}"


def validation_text(report: ValidationReport, style: Style, ledger_note: str | None = None) -> str:
    found = ([(p, "", "red") for p in report.errors]
             + [(p, "warning", "yellow") for p in report.warnings]
             + [(p, "note", "cyan") for p in report.notes])
    found.sort(key=lambda item: (item[0].source, item[0].line or 0, item[0].column or 0))
    lines = [style.paint(problem_line(p, label), color) for p, label, color in found]
    if ledger_note:
        lines.append(f"Note: {ledger_note}")
    counted = (f"{_plural(len(report.file_names), 'file')}, "
               f"{_plural(report.entry_count, 'entry', 'entries')}")
    warnings = _plural(len(report.warnings), "warning")
    if report.errors:
        verdict = style.paint(f"{_plural(len(report.errors), 'error')}, {warnings}", "red")
    elif report.warnings:
        verdict = style.paint(f"OK, {warnings}", "yellow")
    else:
        verdict = style.paint("OK", "green")
    lines.append(f"{counted}: {verdict}")
    return "\n".join(lines)
