"""VA cluster or source health changed: page someone when it turns unhealthy, note recoveries."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.source import VaClusterStatusChange
from idn_triggers.summaries import summarise


@trigger_handler("idn:va-cluster-status-change")
def on_health_change(event: VaClusterStatusChange, context: HandlerContext) -> None:
    now, before = event.health_check_result, event.previous_health_check_result
    summarise(
        context,
        "recovered" if event.healthy else "degraded" if event.healthy is False else "status-changed",
        event.type or "CLUSTER",
        event.application.id,
        labels={
            "status": now.status if now else None,
            "previous_status": before.status if before else None,
            "result_type": now.result_type if now else None,  # the message is free text: not logged
        },
        level="WARNING" if event.healthy is False else "INFO",
    )
