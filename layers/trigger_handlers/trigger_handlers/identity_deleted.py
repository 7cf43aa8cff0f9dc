"""Identity deleted: e.g. clean up records kept about the identity in other systems."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.identity import IdentityDeleted
from idn_triggers.summaries import summarise


@trigger_handler("idn:identity-deleted")
def on_identity_deleted(event: IdentityDeleted, context: HandlerContext) -> None:
    summarise(context, "deleted", "IDENTITY", event.identity.id)
