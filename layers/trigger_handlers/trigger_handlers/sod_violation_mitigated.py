"""SOD violation mitigated: compensating controls apply until their expiration; e.g. schedule a review."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.sod import SodViolationMitigated
from idn_triggers.summaries import summarise


@trigger_handler("idn:sod-violation-mitigated")
def on_mitigated(event: SodViolationMitigated, context: HandlerContext) -> None:
    summarise(
        context,
        "mitigated",
        "SOD_VIOLATION",
        event.id,
        related={"policy": event.policy, "identity": event.target, "owner": event.owner},
        labels={
            "level": event.level,
            "state": event.state,
            "expires": event.expiration.isoformat() if event.expiration else None,
        },
        counts={"applied_controls": len(event.applied_controls)},
        level="INFO",
    )
