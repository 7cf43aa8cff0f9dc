"""Identity created (a joiner): e.g. provision birthright access or welcome the new hire."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.identity import IdentityCreated
from idn_triggers.summaries import summarise


@trigger_handler("idn:identity-created")
def on_joiner(event: IdentityCreated, context: HandlerContext) -> None:
    summarise(
        context,
        "created",
        "IDENTITY",
        event.identity.id,
        attributes=sorted(event.attributes),  # which attributes are set; their values are personal data
    )
