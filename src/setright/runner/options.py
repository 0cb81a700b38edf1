"""How a run behaves: retry budget, the fault hook, lease keeping, lock waiting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from setright.runner.fault import Fault


@dataclass(frozen=True)
class RunOptions:
    max_attempts: int | None = None     # for new applies; default: config `run.max_attempts`
    fault: Fault | None = None          # SETRIGHT_FAULT, parsed by the CLI
    keep_lease_alive: bool = True       # renew from a background thread during long statements
    lock_timeout: float = 0.0           # wait this long for a busy target lock
    #: test hook, called where the fault fires: (change id, first seq, last seq) just committed
    after_commit: Callable[[str, int, int], None] | None = None
