"""Identity lifecycle triggers: created, attributes changed, deleted, and outlier detected.

`attributes` and change values are the identity's profile (names, emails, managers): personal data
to act on, never to log.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from idn_triggers.models.base import SailPointModel
from idn_triggers.models.common import AttributeChange, ListOrNull, SubjectRef, attribute_names


class IdentityEvent(SailPointModel):
    """The identity an event is about; its id is all that is required."""

    identity: SubjectRef


class IdentityCreated(IdentityEvent):
    """`idn:identity-created`: a new identity, with the attributes it was created with."""

    attributes: dict[str, Any] = Field(default_factory=dict)


class IdentityDeleted(IdentityEvent):
    """`idn:identity-deleted`: an identity was removed; `attributes` are its last known values."""

    attributes: dict[str, Any] = Field(default_factory=dict)


class IdentityAttributesChanged(IdentityEvent):
    """`idn:identity-attributes-changed`: one or more identity attributes changed (movers)."""

    changes: ListOrNull[AttributeChange]

    @property
    def changed_attributes(self) -> list[str]:
        """Names of the attributes that changed, e.g. ["department", "manager"]."""
        return attribute_names(self.changes)

    def change(self, attribute: str) -> AttributeChange | None:
        """The change of one attribute, if it changed."""
        return next((c for c in self.changes if c.attribute == attribute), None)


class OutlierIdentity(SubjectRef):
    """The outlier identity. The docs example sends `displayName` where the spec has `name`."""

    display_name: str | None = None


class OutlierDetected(SailPointModel):
    """`idn:outlier-detected`: Access Insights found an identity whose access is unlike its peers'.
    `outlierType` is LOW_SIMILARITY today; `score` runs from 0.0 to 1.0."""

    identity: OutlierIdentity
    outlier_type: str | None = None
    score: float | None = None
