"""Identity attributes changed: spot movers (department, manager, lifecycle state changes)."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.identity import IdentityAttributesChanged
from idn_triggers.summaries import summarise

# Changes that usually mean the identity's access should be reviewed. Adjust to your attributes.
MOVER_ATTRIBUTES = frozenset({"department", "manager", "cloudLifecycleState", "title", "location"})


@trigger_handler("idn:identity-attributes-changed")
def on_identity_change(event: IdentityAttributesChanged, context: HandlerContext) -> None:
    changed = event.changed_attributes
    summarise(
        context,
        "updated",
        "IDENTITY",
        event.identity.id,
        labels={"mover": not MOVER_ATTRIBUTES.isdisjoint(changed)},
        counts={"changes": len(event.changes)},
        attributes=changed,
    )
