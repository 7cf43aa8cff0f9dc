"""Source account updated (deprecated trigger: prefer idn:account-updated); kept for tenants that still send it."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.account import SourceAccountUpdated
from idn_triggers.summaries import summarise


@trigger_handler("idn:source-account-updated")
def on_source_account_updated(event: SourceAccountUpdated, context: HandlerContext) -> None:
    summarise(
        context,
        "updated",
        "ACCOUNT",
        event.id,
        related={"source": event.source_id, "identity": event.identity_id},
        counts={"attributes": len(event.attributes)},
    )
