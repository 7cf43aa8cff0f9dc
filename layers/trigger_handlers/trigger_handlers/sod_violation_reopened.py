"""SOD violation reopened: criteria changed or a compensating control expired."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.sod import SodViolationReopened
from idn_triggers.summaries import summarise


@trigger_handler("idn:sod-violation-reopened")
def on_reopened(event: SodViolationReopened, context: HandlerContext) -> None:
    summarise(
        context,
        "reopened",
        "SOD_VIOLATION",
        event.id,
        related={"policy": event.policy, "identity": event.target, "owner": event.owner},
        labels={
            "level": event.level,
            "state": event.state,
            "previous_status": event.previous_status,
            "reason": event.reason,
        },
        level="WARNING",
    )
