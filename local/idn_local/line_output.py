"""Whole lines on stdout and stderr, however many threads print.

Local mode runs every function in one process: Powertools' metrics are `print()`ed (the text, then
the newline: two writes), so a log line from another thread can land between them and two JSON
documents share a line. Each thread's text is held until its newline, then written at once.
"""

from __future__ import annotations

import io
import sys
import threading
from typing import TextIO


class LineAtomicWriter(io.TextIOBase):
    """A text stream that forwards complete lines only, one thread's line at a time."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._pending = threading.local()

    def write(self, text: str) -> int:
        buffered = getattr(self._pending, "text", "") + text
        complete, newline, rest = buffered.rpartition("\n")
        self._pending.text = rest
        if newline:
            with self._lock:
                self._stream.write(complete + newline)
                self._stream.flush()
        return len(text)

    def flush(self) -> None:
        rest = getattr(self._pending, "text", "")
        self._pending.text = ""
        with self._lock:
            if rest:
                self._stream.write(rest)
            self._stream.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]  # TextIOBase declares it read-only
        return self._stream.encoding


def install() -> None:
    """Wrap sys.stdout and sys.stderr (once) for the rest of the process."""
    if not isinstance(sys.stdout, LineAtomicWriter):
        sys.stdout = LineAtomicWriter(sys.stdout)
    if not isinstance(sys.stderr, LineAtomicWriter):
        sys.stderr = LineAtomicWriter(sys.stderr)
