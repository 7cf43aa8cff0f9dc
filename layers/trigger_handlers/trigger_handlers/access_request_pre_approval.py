"""Pre-approval: deny requests that add an item on a deny list, review some, approve the rest.

Configuration: settings/<HANDLER_SETTINGS>.json in this package (see idn_triggers.settings.HandlerSettings),
or the template parameters (environment variables), which win when set:
- PREAPPROVAL_DENIED_ITEMS: comma-separated access item ids or names (case-insensitive) never to grant.
- PREAPPROVAL_REVIEW_ITEMS: items that need a slower check (replace `review` with yours: a ticket
  system, a risk score...). On a DYNAMIC subscription such requests are deferred to the worker, so
  SailPoint gets 202 at once and the decision later; on SYNC and ASYNC the review runs where it is.
- PREAPPROVAL_APPROVER: the name SailPoint records as the approver. If you also subscribe to
  idn:access-request-post-approval it must be the username of an existing identity.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import Field, field_validator

from idn_triggers.handlers import DEFER, Deferred, HandlerContext, trigger_handler
from idn_triggers.models.access_request import AccessRequestPreApproval, PreApprovalDecision, RequestedItem
from idn_triggers.settings import HandlerSettings


def _lower_csv(value: Any) -> Any:
    if isinstance(value, str):
        return frozenset(item.strip().lower() for item in value.split(",") if item.strip())
    return value


class PreApprovalSettings(HandlerSettings):
    denied_items: frozenset[str] = Field(default=frozenset(), alias="PREAPPROVAL_DENIED_ITEMS")
    review_items: frozenset[str] = Field(default=frozenset(), alias="PREAPPROVAL_REVIEW_ITEMS")
    approver: str = Field(default="sailpoint-event-triggers", min_length=1, alias="PREAPPROVAL_APPROVER")

    _lists = field_validator("denied_items", "review_items", mode="before")(_lower_csv)


@cache
def settings() -> PreApprovalSettings:
    return PreApprovalSettings.from_env()


def _listed(items: list[RequestedItem], names: frozenset[str]) -> list[str]:
    """Names of the items being added whose id or name is in `names`."""
    return sorted(
        {
            item.name
            for item in items
            if item.operation.lower() == "add" and (item.id.lower() in names or item.name.lower() in names)
        }
    )


def review(event: AccessRequestPreApproval, items: list[str]) -> PreApprovalDecision:
    """The slow check. This template approves and says so; put your real review here."""
    return PreApprovalDecision(
        approved=True,
        comment=f"Approved after review of {', '.join(items)}.",
        approver=settings().approver,
    )


@trigger_handler("idn:access-request-pre-approval")
def decide(event: AccessRequestPreApproval, context: HandlerContext) -> PreApprovalDecision | Deferred:
    """Removing access is always allowed; adding a denied item is not; reviewed items wait if they can."""
    config = settings()
    denied = _listed(event.requested_items, config.denied_items)
    if denied:
        return PreApprovalDecision(
            approved=False,
            comment=f"Denied by policy: {', '.join(denied)} may not be requested.",
            approver=config.approver,
        )
    to_review = _listed(event.requested_items, config.review_items)
    if to_review:
        return DEFER if context.can_defer else review(event, to_review)
    return PreApprovalDecision(
        approved=True, comment="Passed pre-approval policy checks.", approver=config.approver
    )
