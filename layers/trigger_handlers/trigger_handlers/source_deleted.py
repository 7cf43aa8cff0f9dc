"""Source deleted: a source and its accounts are gone; warn so someone confirms it was meant."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.source import SourceDeleted
from idn_triggers.summaries import summarise


@trigger_handler("idn:source-deleted")
def on_source_deleted(event: SourceDeleted, context: HandlerContext) -> None:
    summarise(
        context,
        "deleted",
        "SOURCE",
        event.id,
        related={"actor": event.actor},
        labels={"source_type": event.type, "connector": event.connector},
        level="WARNING",
    )
