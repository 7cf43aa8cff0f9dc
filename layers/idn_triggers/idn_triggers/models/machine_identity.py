"""Machine identity triggers: created, updated, deleted (AI agents, applications; ids unverified)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from idn_triggers.models.base import SailPointModel
from idn_triggers.models.common import ListOrNull, Ref, ValueChange, attribute_names


class MachineIdentityOwner(Ref):
    """An identity owning a machine identity; one of them is primary."""

    is_primary: bool | None = None


class UserEntitlement(SailPointModel):
    """An entitlement the machine identity holds on a source."""

    entitlement_id: str | None = None
    display_name: str | None = None
    source_id: str | None = None
    source: Ref | None = None


class MachineIdentity(SailPointModel):
    """A machine identity. `subtype` is 'AI Agent' or 'Application' today; `attributes` come from its
    source."""

    id: str
    name: str | None = None
    subtype: str | None = None
    description: str | None = None
    business_application: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    owners: ListOrNull[MachineIdentityOwner]
    source_id: str | None = None
    source: Ref | None = None
    uuid: str | None = None
    native_identity: str | None = None
    dataset_id: str | None = None
    manually_edited: bool | None = None
    manually_created: bool | None = None
    user_entitlements: ListOrNull[UserEntitlement]
    exists_on_source: str | None = None

    @property
    def primary_owner(self) -> MachineIdentityOwner | None:
        return next((owner for owner in self.owners if owner.is_primary), None)


class MachineIdentityEvent(SailPointModel):
    """A machine identity changed; `eventType` is MACHINE_IDENTITY_CREATED, _UPDATED or _DELETED."""

    event_type: str | None = None
    machine_identity: MachineIdentity


class MachineIdentityCreated(MachineIdentityEvent):
    """`idn:machine-identity-created`."""


class MachineIdentityDeleted(MachineIdentityEvent):
    """`idn:machine-identity-deleted`."""


class UserEntitlementChanges(SailPointModel):
    """Entitlements added to and removed from a machine identity."""

    attribute_name: str | None = None
    added: ListOrNull[UserEntitlement]
    removed: ListOrNull[UserEntitlement]


class OwnerChanges(SailPointModel):
    """Owners added to and removed from a machine identity."""

    attribute_name: str | None = None
    added: ListOrNull[MachineIdentityOwner]
    removed: ListOrNull[MachineIdentityOwner]


class MachineIdentityUpdated(MachineIdentityEvent):
    """`idn:machine-identity-updated`. `machineIdentityChangeTypes` says what changed:
    ATTRIBUTES_CHANGED, USER_ENTITLEMENTS_ADDED/_REMOVED, OWNERS_ADDED/_REMOVED."""

    machine_identity_change_types: ListOrNull[str]
    user_entitlement_changes: UserEntitlementChanges | None = None
    owner_changes: OwnerChanges | None = None
    single_value_attribute_changes: ListOrNull[ValueChange]

    @property
    def changed_attributes(self) -> list[str]:
        return attribute_names(self.single_value_attribute_changes)
