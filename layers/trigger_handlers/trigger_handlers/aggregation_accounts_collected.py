"""Accounts collected (before processing): catch a failed collection before it is aggregated."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.source import AggregationAccountsCollected
from idn_triggers.summaries import summarise


@trigger_handler("idn:aggregation-accounts-collected")
def check_collection(event: AggregationAccountsCollected, context: HandlerContext) -> None:
    """Warn when the run did not succeed or reported errors: accounts may be stale."""
    ok = event.succeeded and not event.errors
    summarise(
        context,
        "collected",
        "SOURCE",
        event.source.id,
        labels={"status": event.status, "duration_seconds": event.duration_seconds},
        counts={**event.stat_counts, "errors": len(event.errors), "warnings": len(event.warnings)},
        level="INFO" if ok else "WARNING",
    )
