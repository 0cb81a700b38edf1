"""The exceptions setright reports to a user.

Every expected failure is a `SetrightError`: the CLI prints its message as one
`Error:` line plus indented detail lines and exits 1, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class SetrightError(Exception):
    """A failure the user can act on; `details` are extra lines shown indented."""

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details or [])


class ConfigError(SetrightError):
    """setright.yaml is missing or invalid."""


class StoreError(SetrightError):
    """The audit store cannot be opened, is busy, or is not a setright store."""


class UnknownId(SetrightError):
    """A change, apply or lock id that the store does not know."""


class TransitionRefused(SetrightError):
    """A guarded update touched no row: the state moved under us, or the move is illegal."""


class LeaseLost(TransitionRefused):
    """A runner's lease token no longer matches: another process took the target over."""


class TargetError(SetrightError):
    """A target database cannot be opened or is not usable."""


class TargetBusy(TargetError):
    """Another runner holds the target's session lock (its details say who)."""


class StatementFailed(Exception):
    """A statement (or marker write) failed in a target; its transaction was rolled back.

    Not a `SetrightError`: the runner records it as the task's failure, it is
    never shown as an `Error:` line by itself."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Problem:
    """One validation problem, located as precisely as the input allows."""

    source: str
    line: int | None
    column: int | None
    path: str
    message: str

    def location(self) -> str:
        if self.line is None:
            return self.source
        return f"{self.source}:{self.line}:{self.column}"

    def __str__(self) -> str:
        where = f" {self.path}:" if self.path and self.path != "$" else ""
        return f"{self.location()}:{where} {self.message}"


class InvalidInput(SetrightError):
    """A file failed validation; carries every problem found, not only the first."""

    def __init__(self, what: str, problems: list[Problem]) -> None:
        self.what = what
        self.problems = problems
        if len(problems) == 1:
            super().__init__(f"{what}: {problems[0]}")
        else:
            super().__init__(
                f"{what}: {len(problems)} problems", [str(p) for p in problems]
            )
