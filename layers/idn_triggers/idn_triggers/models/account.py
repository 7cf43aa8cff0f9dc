"""Account triggers: lifecycle (V2 and native change), correlation, attribute changes, provisioning.

Three payload families exist. The account-attributes-changed/correlated/uncorrelated triggers send
`{identity, source, account}` references; the V2 `idn:account-*` triggers and the native-change
docs add `event`/`eventType`, source owners and attribute/entitlement change lists; the deprecated
`idn:source-account-*` triggers (and the spec's schema for native change) send a flat object.
Account `attributes`, change values and native identities (often a DN with the person's name) are
personal data: act on them, never log them.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, model_validator

from idn_triggers.models.base import SailPointModel
from idn_triggers.models.common import (
    AttributeChange,
    Entitlement,
    EntitlementChange,
    ListOrNull,
    MultiValueChange,
    Ref,
    SubjectRef,
    ValueChange,
    attribute_names,
)


class AccountRef(SubjectRef):
    """The account an event is about: its id is required; `nativeIdentity` is the id on the source."""

    uuid: str | None = None
    native_identity: str | None = None


class AccountAttributesChanged(SailPointModel):
    """`idn:account-attributes-changed`: attributes of an account changed on its source."""

    identity: Ref | None = None
    source: Ref | None = None
    account: AccountRef
    changes: ListOrNull[AttributeChange]

    @property
    def changed_attributes(self) -> list[str]:
        return attribute_names(self.changes)


class AccountCorrelated(SailPointModel):
    """`idn:account-correlated`: an account was linked to an identity."""

    identity: Ref | None = None
    source: Ref | None = None
    account: AccountRef
    attributes: dict[str, Any] = Field(default_factory=dict)
    entitlement_count: int | None = None


class AccountUncorrelated(SailPointModel):
    """`idn:account-uncorrelated`: an account was unlinked from its identity (removed from the spec's
    trigger table in 2025; kept for tenants that still send it)."""

    identity: Ref | None = None
    source: Ref | None = None
    account: AccountRef
    entitlement_count: int | None = None


class AccountEventInfo(SailPointModel):
    """What happened and why: `type` such as ACCOUNT_CREATED_V2, `cause` such as AGGREGATION,
    PROVISIONING or PASSWORD_CHANGE."""

    type: str | None = None
    cause: str | None = None


class SourceDetails(Ref):
    """The account's source with its owner and governance group (who to notify)."""

    alias: str | None = None
    owner: Ref | None = None
    governance_group: Ref | None = None


class AccountDetails(AccountRef):
    """An account with its state; `attributes` are the source's attribute values (personal data)."""

    correlated: bool | None = None
    is_machine: bool | None = None
    origin: str | None = None
    attributes: dict[str, Any] | None = None


class IdentityDetails(Ref):
    """The identity owning the account (absent for uncorrelated accounts)."""

    alias: str | None = None
    email: str | None = None
    manager: Ref | None = None


class AccountChanges(SailPointModel):
    """The change lists of account updates; each may be `null` in the spec and is a list here."""

    account_change_types: ListOrNull[str]
    single_value_attribute_changes: ListOrNull[ValueChange]
    multi_value_attribute_changes: ListOrNull[MultiValueChange]
    entitlement_changes: ListOrNull[EntitlementChange]

    @property
    def changed_attributes(self) -> list[str]:
        """Names of changed attributes, single- and multi-valued, without duplicates."""
        names = attribute_names(self.single_value_attribute_changes)
        names += attribute_names(self.multi_value_attribute_changes)
        return list(dict.fromkeys(names))

    @property
    def entitlements_added(self) -> list[Entitlement]:
        return [e for change in self.entitlement_changes for e in change.added]

    @property
    def entitlements_removed(self) -> list[Entitlement]:
        return [e for change in self.entitlement_changes for e in change.removed]


class AccountLifecycleEvent(SailPointModel):
    """The V2 account triggers (ids not yet confirmed by SailPoint: `idVerified` is false)."""

    event: AccountEventInfo | None = None
    source: SourceDetails | None = None
    account: AccountDetails
    identity: IdentityDetails | None = None

    @property
    def cause(self) -> str | None:
        return self.event.cause if self.event else None


class AccountCreated(AccountLifecycleEvent):
    """`idn:account-created`: an account appeared through aggregation or provisioning."""


class AccountDeleted(AccountLifecycleEvent):
    """`idn:account-deleted`: an account disappeared through aggregation or provisioning."""


class AccountUpdated(AccountLifecycleEvent, AccountChanges):
    """`idn:account-updated`: attributes or entitlements of an account changed."""


class SourceAccountEvent(SailPointModel):
    """`idn:source-account-*` (deprecated): the account as a flat object."""

    id: str
    uuid: str | None = None
    native_identifier: str | None = None
    source_id: str | None = None
    source_name: str | None = None
    identity_id: str | None = None
    identity_name: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class SourceAccountCreated(SourceAccountEvent):
    """`idn:source-account-created` (deprecated; support no longer enables it)."""


class SourceAccountUpdated(SourceAccountEvent):
    """`idn:source-account-updated` (deprecated)."""


class SourceAccountDeleted(SourceAccountEvent):
    """`idn:source-account-deleted` (deprecated)."""


class NativeChangeAccountEvent(AccountChanges):
    """`idn:native-change-account-*`: an account changed directly on its source, not through ISC.

    The docs example has the V2 shape (`eventType`, `identity`, `source`, `account`, change lists);
    the spec reuses the deprecated flat source-account schema (`id`, `sourceId`, `identityId`...).
    A flat payload is read into the same `account`, `source` and `identity` objects (its original
    keys are kept as extra fields), so handlers read one shape. An account id is required.
    """

    event_type: str | None = None
    identity: IdentityDetails | None = None
    source: SourceDetails | None = None
    account: AccountDetails | None = None

    @model_validator(mode="before")
    @classmethod
    def _nest_flat_shape(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "account" in data or "id" not in data:
            return data
        nested = {
            "account": {
                "id": data["id"],
                "uuid": data.get("uuid"),
                "nativeIdentity": data.get("nativeIdentifier"),
                "attributes": data.get("attributes"),
            },
            "source": {"id": data.get("sourceId"), "name": data.get("sourceName")},
            "identity": {"id": data.get("identityId"), "name": data.get("identityName")},
        }
        return {**data, **{key: value for key, value in nested.items() if key not in data}}

    @model_validator(mode="after")
    def _has_account(self) -> Self:
        if self.account is None:
            raise ValueError("neither account.id nor id is present: the changed account is unknown")
        return self

    @property
    def account_id(self) -> str:
        """The changed account's id, whichever shape it came in."""
        assert self.account is not None  # checked by the validator
        return self.account.id


class NativeChangeAccountCreated(NativeChangeAccountEvent):
    """`idn:native-change-account-created`: an account was created directly on the source."""


class NativeChangeAccountUpdated(NativeChangeAccountEvent):
    """`idn:native-change-account-updated`: an account was changed directly on the source."""


class NativeChangeAccountDeleted(NativeChangeAccountEvent):
    """`idn:native-change-account-deleted`: an account was deleted directly on the source."""


class AttributeRequest(SailPointModel):
    """One attribute operation sent to a source (`Add`, `Set`, `Remove`); the value is personal data."""

    attribute_name: str | None = None
    attribute_value: Any = None
    operation: str | None = None


class AccountRequest(SailPointModel):
    """One account operation of a provisioning transaction and its result (SUCCESS, PENDING, FAILED).
    `accountId` is the native account id (often a DN naming the person)."""

    source: Ref | None = None
    account_id: str | None = None
    account_operation: str | None = None
    provisioning_result: str | None = None
    provisioning_target: str | None = None
    ticket_id: str | None = None
    attribute_requests: ListOrNull[AttributeRequest]


class PostProvisioning(SailPointModel):
    """`idn:post-provisioning`: a provisioning transaction finished; one entry per account touched.
    `sources` is a comma-separated list of source names."""

    tracking_number: str
    sources: str | None = None
    action: str | None = None
    errors: ListOrNull[str]
    warnings: ListOrNull[str]
    recipient: Ref | None = None
    requester: Ref | None = None
    account_requests: ListOrNull[AccountRequest]

    @property
    def failed_requests(self) -> list[AccountRequest]:
        return [r for r in self.account_requests if (r.provisioning_result or "").upper() == "FAILED"]
