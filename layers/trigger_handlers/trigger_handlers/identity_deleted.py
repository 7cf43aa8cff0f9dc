"""Identity deleted: e.g. clean up records kept about the identity in other systems."""

from __future__ import annotations

from idn_triggers.handlers import trigger_handler
from idn_triggers.models.identity import IdentityDeleted
from idn_triggers.summaries import summarise


@trigger_handler("idn:identity-deleted")
def on_identity_deleted(event: IdentityDeleted) -> None:
    summarise("idn:identity-deleted", "deleted", "IDENTITY", event.identity.id)
