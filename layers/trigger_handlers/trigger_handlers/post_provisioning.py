"""Provisioning finished: follow up failed account operations (e.g. open a ticket per failure)."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.account import PostProvisioning
from idn_triggers.summaries import summarise


@trigger_handler("idn:post-provisioning")
def on_provisioned(event: PostProvisioning, context: HandlerContext) -> None:
    """Account ids here are native ids (often a DN naming the person): count them, never log them."""
    failed = event.failed_requests
    summarise(
        context,
        "provisioned",
        "PROVISIONING",
        event.tracking_number,
        related={"recipient": event.recipient, "requester": event.requester},
        labels={"action": event.action},
        counts={
            "account_requests": len(event.account_requests),
            "failed": len(failed),
            "errors": len(event.errors),
            "warnings": len(event.warnings),
        },
        level="WARNING" if failed or event.errors else "INFO",
    )
