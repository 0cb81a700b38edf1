"""`SETRIGHT_FAULT`: a test hook that makes crash scenarios deterministic.

    SETRIGHT_FAULT=crash-after:<change-id>:<k>   SIGKILL itself right after operation k
                                                 of that change commits in the target
    SETRIGHT_FAULT=stop-after:<change-id>:<k>    SIGSTOP itself at the same point (a
                                                 paused runner; SIGCONT resumes it)
    SETRIGHT_FAULT=crash-before-marker:<change-id>:<k>
                                                 SIGKILL itself after operation k's statement
                                                 ran and before its marker is written

For a transactional change "after operation k commits" means after the
change's COMMIT (its operations commit together). The hook fires before the
store records the commit, which is exactly the window the target markers
exist for. `crash-before-marker` is the window the markers cannot close: where a
statement commits on its own (PostgreSQL's `CREATE INDEX CONCURRENTLY`, DDL on
MySQL) it has taken effect with no marker, and the next runner must settle it
from the target's catalog; where statement and marker share a transaction the
kill rolls both back. It is meant for tests and demos; never set it in production.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

from setright.errors import SetrightError

ENV_VAR = "SETRIGHT_FAULT"
_ACTIONS = ("crash-after", "stop-after", "crash-before-marker")


@dataclass(frozen=True)
class Fault:
    action: str
    change_id: str
    seq: int

    @classmethod
    def parse(cls, text: str) -> Fault:
        action, _, rest = text.partition(":")
        change_id, _, seq = rest.rpartition(":")
        if action not in _ACTIONS or not change_id or not seq.isdigit() or int(seq) < 1:
            raise SetrightError(
                f"{ENV_VAR}={text!r} is not a fault this runner knows",
                ["expected crash-after:<change-id>:<k>, stop-after:<change-id>:<k> or "
                 "crash-before-marker:<change-id>:<k>, k >= 1"])
        return cls(action, change_id, int(seq))

    @classmethod
    def from_env(cls, environ: dict[str, str] | os._Environ[str]) -> Fault | None:
        text = environ.get(ENV_VAR, "").strip()
        return cls.parse(text) if text else None

    def after_commit(self, change_id: str, first_seq: int, last_seq: int) -> None:
        """Called once operations first_seq..last_seq of `change_id` have committed."""
        if (self.action == "crash-before-marker" or change_id != self.change_id
                or not first_seq <= self.seq <= last_seq):
            return
        if self.action == "crash-after":
            _kill(getattr(signal, "SIGKILL", None))
            os._exit(137)  # platforms without SIGKILL
        else:
            _kill(getattr(signal, "SIGSTOP", None))

    def before_marker(self, change_id: str, seq: int) -> None:
        """Called once operation `seq` of `change_id` ran, before its marker is written."""
        if self.action == "crash-before-marker" and (change_id, seq) == (self.change_id,
                                                                         self.seq):
            _kill(getattr(signal, "SIGKILL", None))
            os._exit(137)


def _kill(sig: signal.Signals | None) -> None:
    if sig is not None:
        os.kill(os.getpid(), sig)

