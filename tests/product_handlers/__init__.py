"""Handlers the product's own tests drive, so that no product test depends on the user's handlers.

`layers/trigger_handlers` is the user's room: they rewrite its templates freely, and the product's
tests must stay green whatever those templates decide. The tests run the receiver, the worker and
local mode with `HANDLERS_PACKAGE=tests.product_handlers` (tests/conftest.py), and these handlers'
answers are fixed here, configured by `PRODUCT_TEST_*` variables read on every call.
"""

from __future__ import annotations

from idn_triggers.catalogue import known_triggers

PACKAGE = __name__
# Triggers with a module of their own, found by the rule as a user's are; the others are all
# served by `other_triggers` (the registry takes any module named in HANDLER_EXCEPTIONS).
OWN_MODULES = frozenset(
    {
        "idn:access-request-pre-approval",
        "idn:access-request-dynamic-approver",
        "idn:identity-created",
        "idn:identity-attributes-changed",
    }
)
HANDLER_EXCEPTIONS: dict[str, str] = {
    trigger_id: f"{__name__}.other_triggers"
    for trigger_id in known_triggers()
    if trigger_id not in OWN_MODULES
}
