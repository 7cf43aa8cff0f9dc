"""Account changed directly on the source, bypassing ISC: e.g. revert or certify the change."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.account import NativeChangeAccountUpdated
from idn_triggers.summaries import summarise


@trigger_handler("idn:native-change-account-updated")
def on_native_update(event: NativeChangeAccountUpdated, context: HandlerContext) -> None:
    """Warn on entitlements granted outside ISC (possible privilege escalation)."""
    summarise(
        context,
        "updated",
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
