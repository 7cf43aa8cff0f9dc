"""Account aggregation completed: check the run's outcome and account counts per source."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.source import AccountAggregationCompleted
from idn_triggers.summaries import summarise


@trigger_handler("idn:account-aggregation-completed")
def check_aggregation(event: AccountAggregationCompleted, context: HandlerContext) -> None:
    """Warn when the run did not succeed or reported errors: accounts may be stale."""
    ok = event.succeeded and not event.errors
    summarise(
        context,
        "aggregated",
        "SOURCE",
        event.source.id,
        labels={"status": event.status, "duration_seconds": event.duration_seconds},
        counts={**event.stat_counts, "errors": len(event.errors), "warnings": len(event.warnings)},
        level="INFO" if ok else "WARNING",
    )
