"""CIEM scope selection changed: audit which scopes someone brought in or out of governance."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.ciem import CiemScopeSelectionChanged
from idn_triggers.summaries import summarise


@trigger_handler("idn:ciem-scope-selection-changed")
def on_scope_selection(event: CiemScopeSelectionChanged, context: HandlerContext) -> None:
    summarise(
        context,
        "selection-changed",
        "SOURCE",
        event.source_isc_id,
        related={"actor": event.identity_id},
        labels={"truncated": event.truncated},
        counts={"scopes": event.total or len(event.scopes_modified)},
    )
