"""Timing whole processes, interleaved, and the medians and goals the table prints.

Every measurement is a whole process (`setright …` or a floor program) timed
from a small intermediary process that waits for it with `wait4`: on Linux a
child's `ru_maxrss` starts from the RSS of the process it was forked from, and
this benchmark grows to hundreds of MiB while it builds data, so the
intermediary (a few MiB) forks the measured process and reports its own wall
time and peak RSS.

`interleave` alternates setright and its floor (ABBA order), after one
untimed warm-up of each, so both see the same page cache and the same load
from the machine's other processes.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

_CHILD_USAGE = """
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
seconds = time.perf_counter() - start
with open(sys.argv[1], "w") as out:
    json.dump([seconds, usage.ru_maxrss, os.waitstatus_to_exitcode(status)], out)
"""


@dataclass(frozen=True)
class Sample:
    seconds: float
    max_rss: int          # bytes
    exit_code: int
    stdout: bytes


@dataclass(frozen=True)
class Command:
    """A process to time: argv, working directory, accepted exit codes."""

    argv: Sequence[str]
    cwd: Path
    exit_codes: tuple[int, ...] = (0,)
    env: dict[str, str] | None = None


def run_process(command: Command) -> Sample:
    """Run `command` once; its own wall time and peak RSS. A wrong exit code stops the bench."""
    env = {**os.environ, "NO_COLOR": "1", **(command.env or {})}
    with tempfile.TemporaryDirectory(prefix="setright-bench-usage-") as tmp:
        usage_file = Path(tmp) / "usage"
        proc = subprocess.run([sys.executable, "-c", _CHILD_USAGE, str(usage_file),
                               *command.argv], cwd=command.cwd, env=env,
                              capture_output=True, check=False)
        seconds, rss_kib, code = json.loads(usage_file.read_text())
    if code not in command.exit_codes:
        raise SystemExit(f"{' '.join(command.argv)} (in {command.cwd}) exited {code}:\n"
                         f"{proc.stderr.decode(errors='replace')}")
    rss = rss_kib if sys.platform == "darwin" else rss_kib * 1024   # Linux reports KiB
    return Sample(seconds, rss, code, proc.stdout)


@dataclass(frozen=True)
class Pair:
    ours: list[Sample]
    floor: list[Sample]

    @property
    def ours_median(self) -> float:
        return statistics.median(s.seconds for s in self.ours)

    @property
    def floor_median(self) -> float:
        return statistics.median(s.seconds for s in self.floor)

    @property
    def rss_median(self) -> int:
        return int(statistics.median(s.max_rss for s in self.ours))


def interleave(ours: Command, floor: Command, repeat: int, *,
               prepare: Callable[[], None] | None = None,
               check: Callable[[Sample, Sample], None] | None = None,
               warmup: bool = True) -> Pair:
    """`repeat` timed runs of each, alternating ABBA; `prepare` runs (untimed) before every
    setright run (e.g. a fresh copy of a store the run changes); `check` compares one
    setright sample with one floor sample (the same answer), once."""
    def one_of_ours() -> Sample:
        if prepare is not None:
            prepare()
        return run_process(ours)

    if warmup:
        first, first_floor = one_of_ours(), run_process(floor)
        if check is not None:
            check(first, first_floor)
    ours_samples, floor_samples = [], []
    for n in range(repeat):
        if n % 2 == 0:
            ours_samples.append(one_of_ours())
            floor_samples.append(run_process(floor))
        else:
            floor_samples.append(run_process(floor))
            ours_samples.append(one_of_ours())
    if not warmup and check is not None:
        check(ours_samples[0], floor_samples[0])
    return Pair(ours_samples, floor_samples)


# -- goals ----------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """What setright's median must be, relative to the floor's: ours <= factor * floor + extra.
    Without a factor the row only explains another (its "met" is None)."""

    text: str
    factor: float | None
    extra: float = 0.0

    def met(self, ours: float, floor: float) -> bool | None:
        return None if self.factor is None else ours <= self.factor * floor + self.extra


@dataclass(frozen=True)
class MemoryGoal:
    text: str
    limit_bytes: int

    def met(self, rss: int) -> bool:
        return rss <= self.limit_bytes


def ratio_text(ours: float, floor: float) -> str:
    if floor <= 0:
        return "n/a"
    ratio = ours / floor
    return f"{ratio:.2f}×" if ratio >= 1 else f"{1 / ratio:.1f}× faster"


def seconds_text(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
