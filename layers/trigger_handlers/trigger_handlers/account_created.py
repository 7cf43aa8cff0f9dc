"""Account created (by aggregation or provisioning): e.g. flag uncorrelated or machine accounts."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.account import AccountCreated
from idn_triggers.summaries import summarise


@trigger_handler("idn:account-created")
def on_account_created(event: AccountCreated, context: HandlerContext) -> None:
    account = event.account
    summarise(
        context,
        "created",
        "ACCOUNT",
        account.id,
        related={"source": event.source, "identity": event.identity},
        labels={"cause": event.cause, "machine": account.is_machine, "correlated": account.correlated},
    )
