"""Source updated: e.g. audit configuration changes to sources."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.source import SourceUpdated
from idn_triggers.summaries import summarise


@trigger_handler("idn:source-updated")
def on_source_updated(event: SourceUpdated, context: HandlerContext) -> None:
    summarise(
        context,
        "updated",
        "SOURCE",
        event.id,
        related={"actor": event.actor},
        labels={"source_type": event.type, "connector": event.connector},
    )
