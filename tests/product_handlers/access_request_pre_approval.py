"""The product tests' pre-approval handler (see shared.py for what it answers)."""

from __future__ import annotations

import os

from idn_triggers.handlers import DEFER, Deferred, HandlerContext, trigger_handler
from idn_triggers.models.access_request import AccessRequestPreApproval, PreApprovalDecision
from tests.product_handlers.shared import (
    APPROVED,
    APPROVER,
    PRE,
    denied_comment,
    listed,
    names,
    reviewed_comment,
    tell,
)


@trigger_handler(PRE)
def decide(event: AccessRequestPreApproval, context: HandlerContext) -> PreApprovalDecision | Deferred:
    tell(PRE, event, context)
    approver = os.environ.get("PRODUCT_TEST_APPROVER") or APPROVER
    if denied := listed(event.requested_items, names("PRODUCT_TEST_DENIED_ITEMS")):
        return PreApprovalDecision(approved=False, comment=denied_comment(denied), approver=approver)
    if reviewed := listed(event.requested_items, names("PRODUCT_TEST_REVIEW_ITEMS")):
        if context.can_defer:
            return DEFER
        return PreApprovalDecision(approved=True, comment=reviewed_comment(reviewed), approver=approver)
    return PreApprovalDecision(approved=True, comment=APPROVED, approver=approver)
