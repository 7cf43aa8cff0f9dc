"""Campaign ended: e.g. export the results for auditors."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.campaign import CampaignEnded
from idn_triggers.summaries import summarise


@trigger_handler("idn:campaign-ended")
def on_campaign_ended(event: CampaignEnded, context: HandlerContext) -> None:
    campaign = event.campaign
    summarise(
        context,
        "ended",
        "CAMPAIGN",
        campaign.id,
        related={"owner": campaign.campaign_owner},
        labels={
            "campaign_type": campaign.type,
            "status": campaign.status,
            "deadline": campaign.deadline.isoformat() if campaign.deadline else None,
        },
    )
