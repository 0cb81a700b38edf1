"""`run`'s progress on the terminal: the runner's events (`runner/report.py`) as lines.

The lines themselves come from `render/run.py`; this module decides when they
are written, and redraws or repeats them from a ticker thread while one
operation runs.
"""

from __future__ import annotations

from typing import Any

import click

from setright.render.terminal import CLEAR_LINE

#: seconds between "still running" lines when output is not a terminal (CI logs)
PLAIN_INTERVAL = 10.0
#: seconds between redraws of the live line on a terminal
LIVE_INTERVAL = 1.0
#: test hook: the plain interval in seconds (documented beside SETRIGHT_FAULT)
INTERVAL_ENV = "SETRIGHT_PROGRESS_INTERVAL"


def plain_interval(environ: Any) -> float:
    from setright.errors import ConfigError

    raw = environ.get(INTERVAL_ENV)
    if raw is None:
        return PLAIN_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ConfigError(f"{INTERVAL_ENV}={raw!r}: expected a positive number of seconds")
    return value


class ProgressPrinter:
    """A live line per running operation and a line per task on a terminal; plain lines
    otherwise, plus a "still running" line every `interval` seconds of one operation.

    Fed by the runner's progress events (`runner/report.py`); a ticker thread redraws
    or reports the running operation between events, so a 70-second statement is
    never silent. Every write holds one lock, so thread and events never interleave.
    Output that cannot be written (`| head` gone, a full disk) only ends the progress:
    an event that raised would abandon the run mid-change, so both the events and the
    thread go quiet, and the run's summary (written after it) is what reports the loss.
    """

    def __init__(self, style: Any, *, terminal: bool, interval: float = PLAIN_INTERVAL,
                 clock: Any = None) -> None:
        import threading
        import time

        self.style = style
        self.terminal = terminal
        self.interval = LIVE_INTERVAL if terminal else interval
        self.clock = clock or time.monotonic
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.target = ""
        self.done = self.total = 0
        self.running: tuple[str, int, int] | None = None   # change, seq, of total
        self.since = 0.0
        self.next_report = 0.0
        self.shown = False                                 # a live line is on screen
        self.silenced = False                              # writing failed: write no more
        self.thread = threading.Thread(target=self._tick, name="setright-progress",
                                       daemon=True)
        self.thread.start()

    # -- runner events ---------------------------------------------------------

    def target_started(self, target: str) -> None:
        from setright.render.run import target_line

        self.target = target
        self._line(target_line(target))

    def reaped(self, target: str, report: Any) -> None:
        from setright.render.run import reap_line

        self._line(reap_line(report.as_dict()))

    def apply_started(self, apply_id: str, attempt: int, max_attempts: int, done: int,
                      total: int, resumed: bool) -> None:
        from setright.render.run import apply_line

        self.done, self.total = done, total
        self._line(apply_line(apply_id, attempt, max_attempts, done, total, resumed))

    def task_started(self, position: int, change_id: str, operations: int) -> None:
        pass

    def operation_started(self, change_id: str, seq: int, total: int) -> None:
        with self.lock:
            self.running = (change_id, seq, total)
            self.since = self.clock()
            self.next_report = self.since + self.interval
            if self.terminal:
                self._draw()

    def operations_committed(self, change_id: str, count: int) -> None:
        with self.lock:
            self.done += count
            self.running = None
            self._clear()

    def task_finished(self, position: int, change_id: str, state: str, audit_state: str | None,
                      detail: str | None) -> None:
        from setright.render.run import task_line

        with self.lock:
            self.running = None
        self._line(task_line(position, change_id, state, audit_state, detail, self.style))

    def apply_finished(self, apply_id: str, state: str, error: str | None) -> None:
        from setright.render.run import apply_finished_line

        self._line(apply_finished_line(apply_id, state, error))

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        with self.lock:
            self.running = None
            self._clear()

    # -- output ------------------------------------------------------------------

    def _echo(self, text: str, *, nl: bool = True) -> None:
        """Write `text` (the caller holds the lock), or nothing once output failed: losing
        the reader of stdout must never fail the change being applied."""
        if self.silenced:
            return
        try:
            click.echo(text, nl=nl, color=True)  # the style chose colour: no tty probe per line
        except OSError:   # EPIPE, ENOSPC, EIO…: the summary after the run reports it
            self.silenced = True

    def _line(self, text: str) -> None:
        with self.lock:
            self._clear()
            self._echo(text)
            if self.running is not None and self.terminal:
                self._draw()

    def _draw(self) -> None:
        from setright.render.run import live_line

        assert self.running is not None
        change_id, seq, total = self.running
        line = live_line(self.target, change_id, seq, total, self.clock() - self.since,
                         self.done, self.total)
        width = getattr(self.style, "width", None)
        if width:  # a wrapped line could not be cleared with one carriage return
            line = line[: max(width - 1, 1)]
        self._echo(CLEAR_LINE + line, nl=False)
        self.shown = True

    def _clear(self) -> None:
        if self.shown:
            self._echo(CLEAR_LINE, nl=False)
            self.shown = False

    def _tick(self) -> None:
        from setright.render.run import still_running_line

        step = min(self.interval, LIVE_INTERVAL) / 4
        while not self.stopped.wait(step):
            with self.lock:
                if self.running is None or self.clock() < self.next_report:
                    continue
                self.next_report += self.interval
                if self.terminal:
                    self._draw()
                else:
                    change_id, seq, total = self.running
                    self._echo(still_running_line(change_id, seq, total,
                                                  self.clock() - self.since))
