"""Access request triggers: the two REQUEST_RESPONSE ones (pre-approval, dynamic approver) and the
fire-and-forget decision (post-approval).

Pre-approval and dynamic approver share one input shape. `requestedFor` is an object in SailPoint's
docs and an array of 1-10 in the spec; both are accepted and exposed as a list.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, model_validator

from idn_triggers.models.base import SailPointModel, SailPointOutput
from idn_triggers.models.common import ListOrNull, OneOrMany, Ref


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


class IdentityReference(SailPointModel):
    """A reference to an identity (who requested, who it is for)."""

    id: str
    name: str | None = None
    type: str | None = "IDENTITY"


class RequestedItemForm(SailPointModel):
    """Completed form data attached to a requested item (current v1 spec)."""

    form_definition_id: str | None = None
    form_instance_id: str | None = None
    form_data: dict[str, Any] | None = None


class RequestedItem(SailPointModel):
    """One access item in the request. `type` is ACCESS_PROFILE, ROLE or ENTITLEMENT today; kept a
    string so a new item type does not fail the access request."""

    id: str
    name: str
    type: str
    operation: str
    description: str | None = None
    comment: str | None = None
    form: RequestedItemForm | None = None


class AccessRequestEvent(SailPointModel):
    """Input of `idn:access-request-pre-approval` and `idn:access-request-dynamic-approver`."""

    access_request_id: str
    requested_for: Annotated[list[IdentityReference], BeforeValidator(_one_or_many), Field(min_length=1)]
    requested_items: list[RequestedItem] = Field(min_length=1)
    requested_by: IdentityReference


class AccessRequestPreApproval(AccessRequestEvent):
    """Sent when an access request is submitted; SailPoint waits for a decision."""


class AccessRequestDynamicApprover(AccessRequestEvent):
    """Sent after pre-approval; SailPoint waits for an extra approver (or none)."""


class PreApprovalDecision(SailPointOutput):
    """Answer to pre-approval. A missing or malformed answer makes the access request fail."""

    approved: bool
    comment: str
    approver: str


class DynamicApprover(SailPointOutput):
    """Answer to dynamic approver: the identity or governance group to add as an approver.

    "No extra approver" is sent in the documented object form `{"id": "", "name": "", "type": ""}`
    (the newest published schema, `outputSchemaWebhookVariant`, says to send empty values; what
    SailPoint does with `null`, which the v1 schema allows, is not documented). A handler returns
    `DynamicApprover.nobody()` or None; both are sent as the object form (`NONE_ANSWER`)."""

    NONE_ANSWER: ClassVar[dict[str, str]] = {"id": "", "name": "", "type": ""}

    id: str
    name: str
    type: Literal["IDENTITY", "GOVERNANCE_GROUP", ""]

    @model_validator(mode="after")
    def _someone_or_nobody(self) -> DynamicApprover:
        values = (self.id, self.name, self.type)
        if all(values) or not any(values):
            return self
        raise ValueError("give id, name and type of the approver, or all three empty for nobody")

    @classmethod
    def nobody(cls) -> DynamicApprover:
        """No extra approver."""
        return cls.model_validate(cls.NONE_ANSWER)


class ApprovalInfo(SailPointModel):
    """One approver's decision on a requested item: `approvalDecision` is APPROVED or DENIED."""

    approval_decision: str | None = None
    approval_comment: str | None = None
    approver_name: str | None = None
    approver: Ref | None = None


class RequestedItemStatus(SailPointModel):
    """A requested item with the approvers' decisions. `clientMetadata` is whatever the creator of
    the access request attached."""

    id: str | None = None
    name: str | None = None
    type: str | None = None
    operation: str | None = None
    description: str | None = None
    comment: str | None = None
    client_metadata: dict[str, Any] | None = None
    form: RequestedItemForm | None = None
    approval_info: ListOrNull[ApprovalInfo]

    @property
    def denied(self) -> bool:
        """True when any approver denied the item (one denial is enough to refuse it)."""
        return any((a.approval_decision or "").upper() == "DENIED" for a in self.approval_info)


class AccessRequestPostApproval(SailPointModel):
    """`idn:access-request-post-approval` (Access Request Decision): approvers decided every item.

    Fire-and-forget and tolerant: only the access request id is required. Fires only when the
    pre-approval `approver`, if any, is the username of an existing identity (docs).
    """

    access_request_id: str
    requested_for: OneOrMany[Ref]
    requested_items_status: ListOrNull[RequestedItemStatus]
    requested_by: Ref | None = None

    @property
    def approved_items(self) -> list[RequestedItemStatus]:
        return [item for item in self.requested_items_status if not item.denied]

    @property
    def denied_items(self) -> list[RequestedItemStatus]:
        return [item for item in self.requested_items_status if item.denied]
