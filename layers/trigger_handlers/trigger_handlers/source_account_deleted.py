"""Source account deleted (deprecated trigger: prefer idn:account-deleted); kept for tenants that still send it."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.account import SourceAccountDeleted
from idn_triggers.summaries import summarise


@trigger_handler("idn:source-account-deleted")
def on_source_account_deleted(event: SourceAccountDeleted, context: HandlerContext) -> None:
    summarise(
        context,
        "deleted",
        "ACCOUNT",
        event.id,
        related={"source": event.source_id, "identity": event.identity_id},
        counts={"attributes": len(event.attributes)},
    )
