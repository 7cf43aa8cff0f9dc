"""Stopping a long-running command on SIGTERM or SIGINT, reliably, even under load.

A Python signal handler runs in the main thread, between two bytecodes of whatever it was doing.
If it takes a lock the main thread already holds (``threading.Event.set()`` while the main thread
sits in ``Event.wait()``, which holds the Event's condition lock), the process deadlocks for good.
So the handler here takes no lock and touches no shared object: the first signal raises
:class:`StopRequested` in the main thread, which the command's main loop catches before it cleans
up; later signals are ignored, so the clean-up itself is never interrupted half-way.

Used by ``python -m idn_simulator`` (``make simulator``) and ``python -m idn_local`` (``make run``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequested(KeyboardInterrupt):
    """SIGTERM or SIGINT arrived: leave the main loop and clean up.

    A KeyboardInterrupt, so ``except Exception`` blocks in the code it interrupts let it through,
    as they do Ctrl-C.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopOnSignals:
    """Install with :meth:`install` in the main thread, before starting anything to clean up."""

    def __init__(self) -> None:
        self.requested: int | None = None  # a plain attribute store: no lock, safe in a handler

    def install(self) -> StopOnSignals:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None:
            return  # already stopping: let the clean-up finish
        self.requested = signum
        raise StopRequested(signum)

    def wait_forever(self) -> None:
        """Block the main thread until a signal raises StopRequested (no lock held while waiting).

        In short sleeps: the kernel may deliver the signal to any thread, and then only the Python
        handler's flag is set; the main thread runs the handler when it next wakes, so a long sleep
        left Ctrl-C unanswered (about 1 stop in 6 on a loaded machine)."""
        while True:
            time.sleep(0.2)


def stop_within(stop: Callable[[], None], seconds: float, what: str) -> bool:
    """Run a clean-up in a daemon thread and wait at most `seconds` for it: True when it finished.

    A command stopping on a signal must end within seconds, even when work in flight (a request
    to an overloaded emulator) would take longer to finish; whatever is left dies with the process.
    When that happens, stderr says so."""
    thread = threading.Thread(target=stop, name=f"stop-{what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        sys.stderr.write(f"{what}: work still in flight after {seconds:g} s was abandoned\n")
        return False
    return True


def exit_now(code: int) -> None:
    """End the process with `code` once everything is stopped and flushed, skipping the interpreter's
    teardown: collecting a large heap (moto, catalogues, models) at exit took seconds on a busy
    machine, long after the command had stopped. Only for a command's own process."""
    import logging

    logging.shutdown()  # flush every log handler (a --log-file included)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more can be said there
            stream.flush()
    os._exit(code)
