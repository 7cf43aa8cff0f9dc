"""CIEM auto-include setting changed on a cloud source: audit who changed scope governance."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.ciem import CiemAutoIncludeScopeSettingChanged
from idn_triggers.summaries import summarise


@trigger_handler("idn:ciem-auto-include-scope-setting-changed")
def on_auto_include_changed(event: CiemAutoIncludeScopeSettingChanged, context: HandlerContext) -> None:
    summarise(
        context,
        "setting-changed",
        "SOURCE",
        event.source_isc_id,
        related={"actor": event.identity_id},
        labels={"event": event.event},
    )
