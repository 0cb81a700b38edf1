"""Ctrl-C stops the statement a target is running, not only the runner.

Python runs a signal handler between bytecodes. A Ctrl-C during a long SQLite
statement therefore waited for the statement to end; one during a PyMySQL read
raised inside the read, which left the connection out of step with the server
(so the runner could not settle its apply, and its lock stayed held until it
expired) while the server went on running the statement.

While a target statement runs, a Ctrl-C instead asks the database to stop it
(`Target.interrupt`: SQLite's interrupt, PostgreSQL's cancel, MySQL's
`KILL QUERY`), from a thread the signal wakes through `signal.set_wakeup_fd`
(the interpreter writes to that socket from its C-level handler, so it wakes
while the main thread is still inside the driver). The statement fails, its
transaction rolls back on a connection that is still in step, and the runner
stops with `KeyboardInterrupt` as before, settling its apply from the markers.
A second Ctrl-C stops at once. Outside a statement, a Ctrl-C is Python's own.

Only the main thread with Python's default SIGINT handler and no other wakeup
file descriptor is changed: a program embedding setright keeps its own.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

#: how long leaving waits for the watcher thread (it may be asking a server to stop)
_JOIN_SECONDS = 10.0


class StatementInterrupts:
    """A Ctrl-C during `statement()` calls `interrupt`, then raises `KeyboardInterrupt`
    when the statement returns (or fails because it was stopped)."""

    def __init__(self, interrupt: Callable[[], None]) -> None:
        self._interrupt = interrupt
        #: held while the flag changes and while the watcher asks the database to stop
        #: the statement, so no request reaches a statement that began after it
        self._lock = threading.Lock()
        self._running = False
        self._requested = False
        self._sockets: tuple[socket.socket, socket.socket] | None = None
        self._watcher: threading.Thread | None = None

    def start(self) -> StatementInterrupts:
        """Take Ctrl-C over (where it may be: see the module's docstring)."""
        if (threading.current_thread() is not threading.main_thread()
                or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
            return self
        reader, writer = socket.socketpair()
        writer.setblocking(False)
        try:
            previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        except (OSError, ValueError):  # pragma: no cover - a platform without it
            reader.close()
            writer.close()
            return self
        if previous != -1:  # someone else's wakeup fd: leave it, and Ctrl-C, as they were
            signal.set_wakeup_fd(previous)
            reader.close()
            writer.close()
            return self
        self._sockets = (reader, writer)
        signal.signal(signal.SIGINT, self._on_sigint)
        self._watcher = threading.Thread(target=self._watch, args=(reader,),
                                         name="setright-ctrl-c", daemon=True)
        self._watcher.start()
        return self

    def stop(self) -> None:
        """Give Ctrl-C back to Python."""
        if self._sockets is None:
            return
        reader, writer = self._sockets
        self._sockets = None
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.set_wakeup_fd(-1)
        writer.close()  # the watcher reads the end of the stream and returns
        if self._watcher is not None:
            self._watcher.join(_JOIN_SECONDS)
        reader.close()

    @contextmanager
    def statement(self) -> Iterator[None]:
        """Around one statement sent to the target."""
        if self._sockets is None:
            yield
            return
        with self._lock:
            self._running = True
        stopped = False  # by a second Ctrl-C, raised inside
        try:
            yield
        except KeyboardInterrupt:
            stopped = True
            raise
        finally:
            with self._lock:  # waits for a request being sent to end
                self._running = False
            requested, self._requested = self._requested, False
            if requested and not stopped:
                raise KeyboardInterrupt

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self._running and not self._requested:
            self._requested = True  # the watcher stops the statement; it then fails
            return
        raise KeyboardInterrupt

    def _watch(self, reader: socket.socket) -> None:
        while True:
            try:
                woken = reader.recv(64)
            except OSError:  # pragma: no cover - closed under us
                return
            if not woken:
                return
            if signal.SIGINT in woken:
                with self._lock:
                    if self._running:
                        try:
                            self._interrupt()
                        except Exception:  # noqa: BLE001 - the statement runs on; a
                            pass           # second Ctrl-C stops the runner at once
