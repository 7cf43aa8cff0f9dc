"""A handler whose downstream is down until the test says it is back (the circuit breaker's)."""

from __future__ import annotations

import threading

from idn_triggers.handlers import trigger_handler
from idn_triggers.models.source import SourceCreated

BEHAVIOUR = {"mode": "raise"}  # raise | answer
HANDLED: list[str] = []
LOCK = threading.Lock()


@trigger_handler("idn:source-created")
def record(event: SourceCreated) -> None:
    if BEHAVIOUR["mode"] == "raise":
        raise ConnectionError("the downstream directory is down")
    with LOCK:
        HANDLED.append(str(event.model_dump().get("id")))
