"""Records each identity created (the trigger that keeps flowing while another is paused)."""

from __future__ import annotations

import threading
import time

from idn_triggers.handlers import trigger_handler
from idn_triggers.models.identity import IdentityCreated

HANDLED: list[tuple[str, float]] = []
LOCK = threading.Lock()


@trigger_handler("idn:identity-created")
def record(event: IdentityCreated) -> None:
    with LOCK:
        HANDLED.append((event.identity.id, time.time()))
