"""Records when each identity's change was handled (the paused, rate-limited trigger of the tests)."""

from __future__ import annotations

import threading
import time

from idn_triggers.handlers import trigger_handler
from idn_triggers.models.identity import IdentityAttributesChanged

HANDLED: list[tuple[str, float]] = []
LOCK = threading.Lock()


@trigger_handler("idn:identity-attributes-changed")
def record(event: IdentityAttributesChanged) -> None:
    with LOCK:
        HANDLED.append((event.identity.id, time.time()))
