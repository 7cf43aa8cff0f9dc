"""Machine identity created (AI agent, application): warn when it has no owner."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.machine_identity import MachineIdentityCreated
from idn_triggers.summaries import summarise


@trigger_handler("idn:machine-identity-created")
def on_machine_identity_created(event: MachineIdentityCreated, context: HandlerContext) -> None:
    machine = event.machine_identity
    owner = machine.primary_owner
    summarise(
        context,
        "created",
        "MACHINE_IDENTITY",
        machine.id,
        related={"source": machine.source_id, "primary_owner": owner},
        labels={"subtype": machine.subtype},
        counts={"owners": len(machine.owners), "user_entitlements": len(machine.user_entitlements)},
        level="INFO" if owner else "WARNING",
    )
