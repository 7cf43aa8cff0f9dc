"""SOD violation closed: the conflict is gone; e.g. resolve the matching ticket."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.sod import SodViolationClosed
from idn_triggers.summaries import summarise


@trigger_handler("idn:sod-violation-closed")
def on_closed(event: SodViolationClosed, context: HandlerContext) -> None:
    summarise(
        context,
        "closed",
        "SOD_VIOLATION",
        event.id,
        related={"policy": event.policy, "identity": event.target, "owner": event.owner},
        labels={"level": event.level, "state": event.state, "previous_status": event.previous_status},
        level="INFO",
    )
