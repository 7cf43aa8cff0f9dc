"""The product tests' dynamic approver (see shared.py for what it answers)."""

from __future__ import annotations

import json
import os
from typing import Any

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.access_request import AccessRequestDynamicApprover, DynamicApprover
from tests.product_handlers.shared import DYN, tell


@trigger_handler(DYN)
def choose(event: AccessRequestDynamicApprover, context: HandlerContext) -> DynamicApprover:
    tell(DYN, event, context)
    rules: dict[str, Any] = json.loads(os.environ.get("PRODUCT_TEST_APPROVER_RULES") or "{}")
    for item in event.requested_items:
        rule = rules.get(item.type.upper()) or rules.get("*")
        if rule is not None:
            return DynamicApprover.model_validate(rule)
    return DynamicApprover.nobody()
