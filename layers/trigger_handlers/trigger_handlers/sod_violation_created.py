"""SOD violation created: an identity now holds conflicting access; alert the policy owner."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.sod import SodViolationCreated
from idn_triggers.summaries import summarise


@trigger_handler("idn:sod-violation-created")
def on_violation(event: SodViolationCreated, context: HandlerContext) -> None:
    summarise(
        context,
        "created",
        "SOD_VIOLATION",
        event.id,
        related={"policy": event.policy, "identity": event.target, "owner": event.owner},
        labels={"level": event.level, "state": event.state},
        level="WARNING",
    )
