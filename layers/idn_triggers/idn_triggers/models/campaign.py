"""Certification triggers: campaign generated, activated and ended; certification signed off.

Campaign and certification names often name a person ("Manager Access Review for Alice Baker"),
so they are personal data like identity names.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from idn_triggers.models.base import SailPointModel
from idn_triggers.models.common import Ref


class CampaignOwner(SailPointModel):
    """The identity owning a campaign."""

    id: str | None = None
    display_name: str | None = None
    email: str | None = None


class Campaign(SailPointModel):
    """A certification campaign. `type` is MANAGER, SOURCE_OWNER, SEARCH or ROLE_COMPOSITION;
    `status` is STAGED, ACTIVATING, ACTIVE or COMPLETED depending on the trigger."""

    id: str
    name: str | None = None
    description: str | None = None
    type: str | None = None
    status: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    deadline: datetime | None = None
    campaign_owner: CampaignOwner | None = None


class CampaignEvent(SailPointModel):
    """A campaign changed state."""

    campaign: Campaign


class CampaignGenerated(CampaignEvent):
    """`idn:campaign-generated`: a campaign was generated (staged, or activating when auto-activated)."""


class CampaignActivated(CampaignEvent):
    """`idn:campaign-activated`: a campaign was activated; reviewers can start."""


class CampaignEnded(CampaignEvent):
    """`idn:campaign-ended`: a campaign completed."""


class CampaignRef(Ref):
    """The campaign a certification belongs to."""

    campaign_type: str | None = None
    description: str | None = None
    correlated_status: str | None = None
    mandatory_comment_requirement: str | None = None


class Reviewer(Ref):
    """A certification reviewer: an IDENTITY or a GOVERNANCE_GROUP."""

    email: str | None = None
    created: datetime | None = None
    modified: datetime | None = None


class CertificationRef(Ref):
    """A certification, with its reviewer (the one a reassignment came from)."""

    reviewer: Reviewer | None = None


class Reassignment(SailPointModel):
    """Where a certification was reassigned from, and why."""

    from_: CertificationRef | None = Field(default=None, alias="from")
    comment: str | None = None


class Certification(SailPointModel):
    """A signed-off certification with its decision counts.

    The spec marks `id`, `name` and `created` required but its own example omits them, so they are
    optional here (notes in the catalogue). `campaignOwner` appears in the docs example only.
    """

    id: str | None = None
    name: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    campaign_ref: CampaignRef | None = None
    campaign_owner: CampaignOwner | None = None
    phase: str | None = None
    due: datetime | None = None
    signed: datetime | None = None
    reviewer: Reviewer | None = None
    reassignment: Reassignment | None = None
    has_errors: bool | None = None
    error_message: str | None = None
    completed: bool | None = None
    decisions_made: int | None = None
    decisions_total: int | None = None
    entities_completed: int | None = None
    entities_total: int | None = None


class CertificationSignedOff(SailPointModel):
    """`idn:certification-signed-off`: a reviewer signed off a certification."""

    certification: Certification
