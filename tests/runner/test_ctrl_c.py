"""`StatementInterrupts`: a Ctrl-C inside a statement asks the database to stop it first.

The processes of `tests/cli/test_interrupt.py` and the server target tests show
the whole path; these pin the handover itself, in this process.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from setright.runner.ctrl_c import StatementInterrupts

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")


@pytest.fixture(autouse=True)
def pythons_own_ctrl_c() -> Iterator[None]:
    """Python's handler, as in a terminal (a suite started with `&` ignores SIGINT)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_inside_a_statement_the_database_is_asked_first_then_the_runner_stops() -> None:
    asked = threading.Event()
    interrupts = StatementInterrupts(asked.set).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            with interrupts.statement():
                _ctrl_c()
                assert asked.wait(10)   # from the watcher thread, while still inside
                # the statement runs on here (as a driver's call would) until it stops
    finally:
        interrupts.stop()


def test_outside_a_statement_ctrl_c_is_pythons_own_and_asks_nothing() -> None:
    asked = threading.Event()
    interrupts = StatementInterrupts(asked.set).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            _ctrl_c()
            threading.Event().wait(10)  # the handler raises long before this ends
        with interrupts.statement():
            pass                        # the earlier Ctrl-C is not carried into it
    finally:
        interrupts.stop()
    assert not asked.is_set()


def test_a_second_ctrl_c_inside_the_statement_stops_at_once() -> None:
    interrupts = StatementInterrupts(lambda: None).start()
    try:
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt) as stopped:
            with interrupts.statement():
                _ctrl_c()
                for _ in range(100_000):
                    pass                # the first is only recorded
                _ctrl_c()
                threading.Event().wait(10)
        assert time.monotonic() - started < 5
        assert stopped.traceback[-1].name == "_on_sigint"   # raised by the second
    finally:
        interrupts.stop()


def test_stop_gives_ctrl_c_and_the_wakeup_fd_back() -> None:
    interrupts = StatementInterrupts(lambda: None).start()
    assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    interrupts.stop()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.set_wakeup_fd(-1) == -1


def test_a_program_with_its_own_handler_keeps_it() -> None:
    def own(signum: int, frame: object) -> None:
        pass

    previous = signal.signal(signal.SIGINT, own)
    try:
        interrupts = StatementInterrupts(lambda: None).start()
        assert signal.getsignal(signal.SIGINT) is own
        with interrupts.statement():
            pass
        interrupts.stop()
        assert signal.getsignal(signal.SIGINT) is own
    finally:
        signal.signal(signal.SIGINT, previous)
