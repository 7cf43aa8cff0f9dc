"""Account updated: see which attributes and entitlements changed, and why (aggregation,
provisioning, password change)."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.account import AccountUpdated
from idn_triggers.summaries import summarise


@trigger_handler("idn:account-updated")
def on_account_updated(event: AccountUpdated, context: HandlerContext) -> None:
    summarise(
        context,
        "updated",
        "ACCOUNT",
        event.account.id,
        related={"source": event.source, "identity": event.identity},
        labels={"cause": event.cause, "change_types": ",".join(event.account_change_types)},
        counts={
            "entitlements_added": len(event.entitlements_added),
            "entitlements_removed": len(event.entitlements_removed),
        },
        attributes=event.changed_attributes,
    )
