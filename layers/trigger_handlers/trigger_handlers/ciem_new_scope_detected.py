"""CIEM found new cloud scopes: e.g. decide whether to bring them under governance."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.ciem import CiemNewScopeDetected
from idn_triggers.summaries import summarise


@trigger_handler("idn:ciem-new-scope-detected")
def on_new_scopes(event: CiemNewScopeDetected, context: HandlerContext) -> None:
    summarise(
        context,
        "detected",
        "SOURCE",
        event.source_isc_id,
        labels={"scopes_enabled": event.scopes_enabled, "truncated": event.truncated},
        counts={"scopes": event.total or len(event.scopes_discovered)},
    )
