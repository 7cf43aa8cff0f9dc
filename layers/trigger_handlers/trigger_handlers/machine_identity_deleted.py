"""Machine identity deleted: e.g. revoke credentials it held elsewhere."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.machine_identity import MachineIdentityDeleted
from idn_triggers.summaries import summarise


@trigger_handler("idn:machine-identity-deleted")
def on_machine_identity_deleted(event: MachineIdentityDeleted, context: HandlerContext) -> None:
    machine = event.machine_identity
    owner = machine.primary_owner
    summarise(
        context,
        "deleted",
        "MACHINE_IDENTITY",
        machine.id,
        related={"source": machine.source_id, "primary_owner": owner},
        labels={"subtype": machine.subtype},
        counts={"owners": len(machine.owners), "user_entitlements": len(machine.user_entitlements)},
    )
