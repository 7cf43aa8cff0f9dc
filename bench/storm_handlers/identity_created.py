"""Counts each identity-created event by its identity id (the bench makes every id unique)."""

from __future__ import annotations

import threading
import time
from collections import Counter

from idn_triggers.handlers import trigger_handler
from idn_triggers.models.identity import IdentityCreated

HANDLED: Counter[str] = Counter()
LAST = [0.0]
LOCK = threading.Lock()


@trigger_handler("idn:identity-created")
def count(event: IdentityCreated) -> None:
    with LOCK:
        HANDLED[event.identity.id] += 1
        LAST[0] = time.perf_counter()
