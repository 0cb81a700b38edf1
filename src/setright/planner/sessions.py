"""A runner killed mid-statement leaves its database session running that statement.

A mark of a STARTED change ends its runner's apply, as the reaper does, so it
needs the target's runner session lock free: `plan` warns while a session
holds it, `apply` refuses. Only server targets have such sessions (on SQLite
a killed runner's transaction ends with its process).
"""

from __future__ import annotations

from collections.abc import Sequence

from setright.config import Config
from setright.planner.model import Action, ActionKind, Outcome


def started_marks(actions: Sequence[Action], config: Config) -> dict[str, str]:
    """Target → the STARTED changes the actions mark there, quoted (`'a', 'b'`)."""
    marks: dict[str, list[str]] = {}
    for a in actions:
        if (a.kind == ActionKind.RESOLVE and a.outcome == Outcome.CHANGE
                and a.before == "STARTED" and a.target is not None
                and a.target in config.targets):
            marks.setdefault(a.target, []).append(repr(a.subject))
    return {target: ", ".join(marks[target]) for target in sorted(marks)}


def session_warnings(actions: Sequence[Action], config: Config) -> list[str]:
    """What `plan` says of the sessions `refuse_live_sessions` would refuse for now (a
    session may end, or a runner be killed, before the plan is applied)."""
    from setright.runner.targets import TargetError, session_holder

    warnings = []
    for target, changes in started_marks(actions, config).items():
        try:
            session = session_holder(config.targets[target])
        except TargetError as exc:
            warnings.append(f"{changes}: whether a session of its runner still runs on "
                            f"target {target} is unknown, so apply checks again and refuses "
                            f"if it cannot: {exc.message}")
            continue
        if session is not None:
            warnings.append(f"target {target}: {session.who} still holds the runner's session "
                            f"lock, so {changes} may still be running there; apply refuses "
                            f"until that session ends ({session.end_with})")
    return warnings


def refuse_live_sessions(actions: Sequence[Action], config: Config) -> None:
    """Before the `target:` locks, so a refusal does not take over a paused runner's
    expired lease; a runner that starts after the check holds the target lock, which the
    apply then waits for (a dead runner's session never returns)."""
    from setright.runner.targets import TargetBusy, TargetError, session_holder

    for target, changes in started_marks(actions, config).items():
        try:
            session = session_holder(config.targets[target])
        except TargetError as exc:
            raise TargetError(exc.message, [*exc.details, f"marking {changes} checks first "
                              "that no session of its runner still runs there",
                              "nothing was written"]) from None
        if session is not None:
            raise TargetBusy(
                f"target {target}: {session.who} still holds the runner's session lock; "
                f"{changes} may still be running there",
                ["a runner killed mid-statement leaves its session running the statement",
                 f"wait for it to end, or end it ({session.end_with}); then apply again",
                 "nothing was written"])
