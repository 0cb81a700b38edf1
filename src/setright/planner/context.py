"""What evaluating a plan's entries needs beyond the store, kept apart from the redrive
checks so that planning marks alone never imports them (nor the runner they use)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from setright.runner.fresh_plan import FreshPlan
    from setright.runner.model import Change
    from setright.runner.snapshots import LiveSnapshot


@dataclass(frozen=True)
class RedriveContext:
    """What a redrive check needs beyond the store: time, policy, change files, our locks."""

    now_ms: int
    max_age: float
    owner: str                                        # user@host:pid of this process
    fresh_plan: Callable[[str], FreshPlan]            # target → fresh plan (pure)
    changes: Callable[[str], Sequence[Change]]        # target → loaded change files
    own_lock_ids: Collection[str] = ()                # locks this process holds (apply)
    #: target → the live holder our lock replaced (a forced redrive), as the plan saw it
    holders_before: Mapping[str, str | None] = field(default_factory=dict)
    #: target → its schema now, read-only (None: the live target is not consulted)
    live_schema: Callable[[str], LiveSnapshot] | None = None
    #: a Flamingock runner's lock table (a live lock there: its STARTED changes are running)
    flamingock_lock_table: str = "flamingockLock"
