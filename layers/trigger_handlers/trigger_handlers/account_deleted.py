"""Account deleted (by aggregation or provisioning): e.g. reconcile a CMDB or close tickets."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.account import AccountDeleted
from idn_triggers.summaries import summarise


@trigger_handler("idn:account-deleted")
def on_account_deleted(event: AccountDeleted, context: HandlerContext) -> None:
    account = event.account
    summarise(
        context,
        "deleted",
        "ACCOUNT",
        account.id,
        related={"source": event.source, "identity": event.identity},
        labels={"cause": event.cause, "machine": account.is_machine, "correlated": account.correlated},
    )
