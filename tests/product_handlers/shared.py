"""What the product tests' handlers share: their answers, the listeners, the fire-and-forget kind.

The handlers, one module per trigger as a user writes them (or `other_triggers` for the rest):

- pre-approval: denies an added item named in PRODUCT_TEST_DENIED_ITEMS, reviews one named in
  PRODUCT_TEST_REVIEW_ITEMS (deferred when the delivery can defer, else approved as reviewed),
  approves the rest; the approver is PRODUCT_TEST_APPROVER. Names and ids match case-insensitively.
- dynamic approver: the rule of PRODUCT_TEST_APPROVER_RULES (JSON, item type or "*" -> approver)
  for the first requested item that has one, else nobody.
- every fire-and-forget trigger: logs one summary naming the trigger (no payload values).
Every call is told to the functions in LISTENERS, for tests that watch what ran (from any thread).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from pydantic import BaseModel

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.access_request import RequestedItem
from idn_triggers.summaries import summarise

PRE = "idn:access-request-pre-approval"
DYN = "idn:access-request-dynamic-approver"
APPROVER = "product-tests"
APPROVED = "product tests: approved"

LISTENERS: list[Callable[[str, BaseModel, HandlerContext], None]] = []


def denied_comment(names: str) -> str:
    return f"product tests: denied {names}"


def reviewed_comment(names: str) -> str:
    return f"product tests: reviewed {names}"


def tell(trigger_id: str, event: BaseModel, context: HandlerContext) -> None:
    for listener in list(LISTENERS):
        listener(trigger_id, event, context)


def names(variable: str) -> frozenset[str]:
    return frozenset(n.strip().lower() for n in os.environ.get(variable, "").split(",") if n.strip())


def listed(items: list[RequestedItem], names: frozenset[str]) -> str:
    found = {i.name for i in items if i.operation.lower() == "add" and {i.id.lower(), i.name.lower()} & names}
    return ", ".join(sorted(found))


def fire_and_forget(trigger_id: str, module: str) -> Callable[..., None]:
    """Register, in `module`, a handler of `trigger_id` with its catalogue input model."""
    from idn_triggers.catalogue import known_triggers

    model = known_triggers()[trigger_id].load_input_model()

    def seen(event: BaseModel, context: HandlerContext) -> None:
        tell(trigger_id, event, context)
        summarise(context, "seen", "EVENT", None)

    seen.__annotations__ = {"event": model, "context": HandlerContext, "return": None}
    seen.__name__ = seen.__qualname__ = f"on_{trigger_id.removeprefix('idn:').replace('-', '_')}"
    seen.__module__ = module
    return trigger_handler(trigger_id)(seen)
