"""Account deleted directly on the source, bypassing ISC: e.g. confirm it was a sanctioned removal."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.account import NativeChangeAccountDeleted
from idn_triggers.summaries import summarise


@trigger_handler("idn:native-change-account-deleted")
def on_native_delete(event: NativeChangeAccountDeleted, context: HandlerContext) -> None:
    """Log the removal with what the account lost."""
    summarise(
        context,
        "deleted",
        "ACCOUNT",
        event.account_id,
        related={"source": event.source, "identity": event.identity},
        labels={"event_type": event.event_type},
        counts={
            "entitlements_added": len(event.entitlements_added),
            "entitlements_removed": len(event.entitlements_removed),
        },
        attributes=event.changed_attributes,
    )
