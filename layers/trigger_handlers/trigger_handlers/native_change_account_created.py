"""Account created directly on the source, bypassing ISC: review it, e.g. open a ticket."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.account import NativeChangeAccountCreated
from idn_triggers.summaries import summarise


@trigger_handler("idn:native-change-account-created")
def on_native_create(event: NativeChangeAccountCreated, context: HandlerContext) -> None:
    """Warn when the out-of-band account came with entitlements."""
    summarise(
        context,
        "created",
        "ACCOUNT",
        event.account_id,
        related={"source": event.source, "identity": event.identity},
        labels={"event_type": event.event_type},
        counts={
            "entitlements_added": len(event.entitlements_added),
            "entitlements_removed": len(event.entitlements_removed),
        },
        attributes=event.changed_attributes,
        level="WARNING" if event.entitlements_added else "INFO",
    )
