"""Access request decided (post-approval): record the outcome, e.g. to close a ticket or notify."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.access_request import AccessRequestPostApproval
from idn_triggers.summaries import summarise


@trigger_handler("idn:access-request-post-approval")
def record_decision(event: AccessRequestPostApproval, context: HandlerContext) -> None:
    denied, approved = event.denied_items, event.approved_items
    outcome = "DENIED" if not approved else "PARTIALLY_APPROVED" if denied else "APPROVED"
    summarise(
        context,
        "decided",
        "ACCESS_REQUEST",
        event.access_request_id,
        related={"requested_by": event.requested_by},
        labels={"outcome": outcome},
        counts={
            "requested_for": len(event.requested_for),
            "approved_items": len(approved),
            "denied_items": len(denied),
        },
    )
