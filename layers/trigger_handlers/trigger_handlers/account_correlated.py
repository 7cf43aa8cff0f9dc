"""Account correlated to an identity: e.g. start governing an account found by aggregation."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.account import AccountCorrelated
from idn_triggers.summaries import summarise


@trigger_handler("idn:account-correlated")
def on_correlated(event: AccountCorrelated, context: HandlerContext) -> None:
    summarise(
        context,
        "correlated",
        "ACCOUNT",
        event.account.id,
        related={"source": event.source, "identity": event.identity},
        counts={"entitlements": event.entitlement_count or 0},
    )
