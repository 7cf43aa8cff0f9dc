"""Account uncorrelated from its identity: an orphan account; warn when it still holds entitlements."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.account import AccountUncorrelated
from idn_triggers.summaries import summarise


@trigger_handler("idn:account-uncorrelated")
def on_uncorrelated(event: AccountUncorrelated, context: HandlerContext) -> None:
    summarise(
        context,
        "uncorrelated",
        "ACCOUNT",
        event.account.id,
        related={"source": event.source, "identity": event.identity},
        counts={"entitlements": event.entitlement_count or 0},
        level="WARNING" if event.entitlement_count else "INFO",
    )
