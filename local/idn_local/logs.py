"""Where local mode's logs go, and whose they are.

stdout is for the user (the addresses, how to use the CLI, the demo table); every log line goes to
stderr, or to a file (`--log-file`). All writers share one stream guarded by a lock, so two
threads' JSON lines never interleave.

In AWS each function has its own process, so Powertools' logger state (the `function_name`,
`cold_start` and request id that `inject_lambda_context` appends, the service read from
`POWERTOOLS_SERVICE_NAME` when a module builds its `Logger()`) belongs to one function. Local mode
runs every function in one process, where that state is shared: the last invoked function's name
would appear on another function's lines, and loggers built before the environment was set say
`service_undefined`. A filter on the Powertools handlers stamps each line with the function whose
invocation is running in that thread (a context variable set by `LocalFunction.invoke`).
"""

from __future__ import annotations

import logging
import sys
import threading
from contextvars import ContextVar
from typing import IO, Any

# What a log line says about its function; outside any invocation (the demo, the runner) the
# function keys are dropped and the service is local mode's own.
CURRENT_FUNCTION: ContextVar[dict[str, Any] | None] = ContextVar("idn_local_function", default=None)
LOCAL_SERVICE = "idn-local"
FUNCTION_KEYS = (
    "function_name",
    "function_arn",
    "function_request_id",
    "function_memory_size",
    "cold_start",
)


class SerialStream:
    """A text stream whose every write is whole: one lock for every logger writing to it."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            written = self.stream.write(text)
            self.stream.flush()
            return written

    def flush(self) -> None:
        with self._lock:
            self.stream.flush()


class FunctionFilter(logging.Filter):
    """Put the running function's own name, request id and service on each Powertools line."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = CURRENT_FUNCTION.get()
        if current is None:
            for key in FUNCTION_KEYS:
                setattr(record, key, None)  # None values are dropped from the JSON line
            record.service = LOCAL_SERVICE
        else:
            for key, value in current.items():
                setattr(record, key, value)
        return True


class _Routing:
    """Where the lines go, and which Powertools handlers already send them there."""

    def __init__(self) -> None:
        self.destination: SerialStream | None = None
        self.routed: set[int] = set()
        self.seen_loggers = 0
        self.filter = FunctionFilter()


_routing = _Routing()


def destination() -> SerialStream:
    """The one stream every log line goes to (stderr unless `configure` chose a file)."""
    if _routing.destination is None:
        _routing.destination = SerialStream(sys.stderr)
    return _routing.destination


def configure(*, verbose: bool, log_file: IO[str] | None = None) -> None:
    """The command's logging: INFO to stderr (or `log_file`); `verbose` adds every request."""
    _routing.destination = SerialStream(log_file if log_file is not None else sys.stderr)
    logging.basicConfig(
        level=logging.INFO,
        stream=_routing.destination,  # write and flush are all it needs
        format="%(asctime)s %(name)s %(message)s",
        datefmt="%H:%M:%S",
    )
    if not verbose:
        logging.getLogger("idn_local.gateway_server").setLevel(logging.WARNING)
        logging.getLogger("idn_simulator").setLevel(logging.WARNING)
    for noisy in ("werkzeug", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def route_function_logs() -> None:
    """Send every Powertools logger's lines to `destination()` through the function filter.

    Powertools loggers write to stdout from their own handler and do not propagate; this finds
    them (cheaply: only when new loggers appeared) and redirects their handlers."""
    registry = logging.root.manager.loggerDict
    if len(registry) == _routing.seen_loggers:
        return
    _routing.seen_loggers = len(registry)
    stream = destination()
    for logger in list(registry.values()):
        if not isinstance(logger, logging.Logger):
            continue
        for handler in logger.handlers:
            if id(handler) in _routing.routed or not _is_powertools(handler):
                continue
            logger.propagate = False  # its own handler writes the line: not a second, plain copy via root
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(stream)
            handler.addFilter(_routing.filter)
            _routing.routed.add(id(handler))


def _is_powertools(handler: logging.Handler) -> bool:
    return type(handler.formatter).__module__.startswith("aws_lambda_powertools")


class FunctionOutput:
    """sys.stdout for local mode: what a function prints while it runs (Powertools Metrics writes
    its EMF lines with print) goes to the logs, whole lines at a time; everything else, the user's
    output, goes to the real stdout."""

    def __init__(self, stdout: IO[str]) -> None:
        self.stdout = stdout
        self._pending = threading.local()

    def write(self, text: str) -> int:
        if CURRENT_FUNCTION.get() is None:
            return self.stdout.write(text)
        pending = getattr(self._pending, "text", "") + text  # print() writes the text, then "\n"
        whole, newline, rest = pending.rpartition("\n")
        self._pending.text = rest
        if newline:
            destination().write(whole + newline)
        return len(text)

    def flush(self) -> None:
        self.stdout.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding, ...: the real stdout's
        return getattr(self.stdout, name)
