"""Pre-approval: deny requests that add an item on a deny list, approve everything else.

Configuration (template parameters -> environment):
- PREAPPROVAL_DENIED_ITEMS: comma-separated access item ids or names (case-insensitive) never to grant.
- PREAPPROVAL_APPROVER: the name SailPoint records as the approver. If you also subscribe to
  idn:access-request-post-approval it must be the username of an existing identity.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import Field, field_validator

from idn_triggers.handlers import trigger_handler
from idn_triggers.models.access_request import AccessRequestPreApproval, PreApprovalDecision
from idn_triggers.settings import EnvSettings


class PreApprovalSettings(EnvSettings):
    denied_items: frozenset[str] = Field(default=frozenset(), alias="PREAPPROVAL_DENIED_ITEMS")
    approver: str = Field(default="sailpoint-event-triggers", min_length=1, alias="PREAPPROVAL_APPROVER")

    @field_validator("denied_items", mode="before")
    @classmethod
    def _lower_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(item.strip().lower() for item in value.split(",") if item.strip())
        return value


@cache
def settings() -> PreApprovalSettings:
    return PreApprovalSettings.from_env()


@trigger_handler("idn:access-request-pre-approval")
def decide(event: AccessRequestPreApproval) -> PreApprovalDecision:
    """Removing access is always allowed; adding an item on the deny list is not."""
    config = settings()
    denied = [
        item.name
        for item in event.requested_items
        if item.operation.lower() == "add"
        and (item.id.lower() in config.denied_items or item.name.lower() in config.denied_items)
    ]
    if denied:
        return PreApprovalDecision(
            approved=False,
            comment=f"Denied by policy: {', '.join(sorted(set(denied)))} may not be requested.",
            approver=config.approver,
        )
    return PreApprovalDecision(
        approved=True, comment="Passed pre-approval policy checks.", approver=config.approver
    )
