"""Source created: e.g. check a new connector against your approved list."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.source import SourceCreated
from idn_triggers.summaries import summarise


@trigger_handler("idn:source-created")
def on_source_created(event: SourceCreated, context: HandlerContext) -> None:
    summarise(
        context,
        "created",
        "SOURCE",
        event.id,
        related={"actor": event.actor},
        labels={"source_type": event.type, "connector": event.connector},
    )
