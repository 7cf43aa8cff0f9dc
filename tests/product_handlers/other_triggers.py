"""The product tests' handlers of every other fire-and-forget trigger (HANDLER_EXCEPTIONS)."""

from __future__ import annotations

from idn_triggers.catalogue import known_triggers
from tests.product_handlers import OWN_MODULES
from tests.product_handlers.shared import fire_and_forget

for _trigger_id, _info in sorted(known_triggers().items()):
    if not _info.is_request_response and _trigger_id not in OWN_MODULES:
        fire_and_forget(_trigger_id, __name__)
