"""Campaign generated: e.g. check its scope before someone activates it."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.campaign import CampaignGenerated
from idn_triggers.summaries import summarise


@trigger_handler("idn:campaign-generated")
def on_campaign_generated(event: CampaignGenerated, context: HandlerContext) -> None:
    campaign = event.campaign
    summarise(
        context,
        "generated",
        "CAMPAIGN",
        campaign.id,
        related={"owner": campaign.campaign_owner},
        labels={
            "campaign_type": campaign.type,
            "status": campaign.status,
            "deadline": campaign.deadline.isoformat() if campaign.deadline else None,
        },
    )
