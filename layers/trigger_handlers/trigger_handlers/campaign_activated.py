"""Campaign activated: e.g. announce it to reviewers with its deadline."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.campaign import CampaignActivated
from idn_triggers.summaries import summarise


@trigger_handler("idn:campaign-activated")
def on_campaign_activated(event: CampaignActivated, context: HandlerContext) -> None:
    campaign = event.campaign
    summarise(
        context,
        "activated",
        "CAMPAIGN",
        campaign.id,
        related={"owner": campaign.campaign_owner},
        labels={
            "campaign_type": campaign.type,
            "status": campaign.status,
            "deadline": campaign.deadline.isoformat() if campaign.deadline else None,
        },
    )
