"""Certification signed off: track review progress, and warn when the certification had errors."""

from __future__ import annotations

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.campaign import CertificationSignedOff
from idn_triggers.summaries import summarise


@trigger_handler("idn:certification-signed-off")
def on_signed_off(event: CertificationSignedOff, context: HandlerContext) -> None:
    cert = event.certification
    campaign, reviewer = cert.campaign_ref, cert.reviewer
    summarise(
        context,
        "signed-off",
        "CERTIFICATION",
        cert.id,
        related={"campaign": campaign, "reviewer": reviewer},
        labels={
            "campaign_type": campaign.campaign_type if campaign else None,
            "reviewer_type": reviewer.type if reviewer else None,
            "reassigned": cert.reassignment is not None,
        },
        counts={
            "decisions_made": cert.decisions_made or 0,
            "decisions_total": cert.decisions_total or 0,
            "entities_total": cert.entities_total or 0,
        },
        level="WARNING" if cert.has_errors else "INFO",
    )
