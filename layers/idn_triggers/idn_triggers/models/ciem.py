"""Cloud Infrastructure Entitlement Management (CIEM) scope triggers.

SailPoint publishes only a JSON schema for these (no example payload, no required field, ids
unverified), so every field is optional. `timestamp` is kept as sent: its format is not documented.
"""

from __future__ import annotations

from idn_triggers.models.base import SailPointModel
from idn_triggers.models.common import ListOrNull


class CiemScope(SailPointModel):
    """A cloud scope (account, subscription, project...) by name and native id."""

    name: str | None = None
    native_id: str | None = None


class CiemSourceEvent(SailPointModel):
    """A CIEM event about one cloud source: `sourceIscId` is the ISC source id."""

    event: str | None = None
    source_isc_id: str | None = None
    source_name: str | None = None
    source_native_id: str | None = None
    timestamp: str | None = None


class CiemAutoIncludeScopeSettingChanged(CiemSourceEvent):
    """`idn:ciem-auto-include-scope-setting-changed`: someone changed whether new scopes are included
    automatically."""

    identity_id: str | None = None
    identity_display_name: str | None = None


class CiemNewScopeDetected(CiemSourceEvent):
    """`idn:ciem-new-scope-detected`: new scopes were discovered on a source (`truncated` when the
    list is cut short of `total`)."""

    org: str | None = None
    scopes_discovered: ListOrNull[CiemScope]
    scopes_enabled: bool | None = None
    total: int | None = None
    truncated: bool | None = None


class CiemScopeSelectionChanged(CiemSourceEvent):
    """`idn:ciem-scope-selection-changed`: someone changed which scopes are managed."""

    identity_id: str | None = None
    identity_display_name: str | None = None
    scopes_modified: ListOrNull[CiemScope]
    total: int | None = None
    truncated: bool | None = None
