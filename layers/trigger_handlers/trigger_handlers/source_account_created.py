"""Source account created (deprecated trigger: prefer idn:account-created); kept for tenants that still send it."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.account import SourceAccountCreated
from idn_triggers.summaries import summarise


@trigger_handler("idn:source-account-created")
def on_source_account_created(event: SourceAccountCreated, context: HandlerContext) -> None:
    summarise(
        context,
        "created",
        "ACCOUNT",
        event.id,
        related={"source": event.source_id, "identity": event.identity_id},
        counts={"attributes": len(event.attributes)},
    )
