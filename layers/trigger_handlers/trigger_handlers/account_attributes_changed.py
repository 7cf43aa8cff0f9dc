"""Account attributes changed: react to changes of specific attributes (e.g. a disabled flag)."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.account import AccountAttributesChanged
from idn_triggers.summaries import summarise


@trigger_handler("idn:account-attributes-changed")
def on_account_change(event: AccountAttributesChanged, context: HandlerContext) -> None:
    summarise(
        context,
        "updated",
        "ACCOUNT",
        event.account.id,
        related={"source": event.source, "identity": event.identity},
        counts={"changes": len(event.changes)},
        attributes=event.changed_attributes,  # names only: values are personal data
    )
