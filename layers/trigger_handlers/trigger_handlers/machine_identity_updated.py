"""Machine identity updated: track entitlement and ownership changes of AI agents and applications."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.machine_identity import MachineIdentityUpdated
from idn_triggers.summaries import summarise


@trigger_handler("idn:machine-identity-updated")
def on_machine_identity_updated(event: MachineIdentityUpdated, context: HandlerContext) -> None:
    machine, grants, owners = event.machine_identity, event.user_entitlement_changes, event.owner_changes
    summarise(
        context,
        "updated",
        "MACHINE_IDENTITY",
        machine.id,
        related={"source": machine.source_id},
        labels={"subtype": machine.subtype, "change_types": ",".join(event.machine_identity_change_types)},
        counts={
            "entitlements_added": len(grants.added) if grants else 0,
            "entitlements_removed": len(grants.removed) if grants else 0,
            "owners_added": len(owners.added) if owners else 0,
            "owners_removed": len(owners.removed) if owners else 0,
        },
        attributes=event.changed_attributes,
    )
