"""Outlier detected: an identity's access is unlike its peers'. Warn above a configurable score.

Configuration (settings/<HANDLER_SETTINGS>.json in this package, or the environment, which wins):
- OUTLIER_ALERT_SCORE: score (0.0-1.0) from which an outlier is logged as a warning; default 0.8.
"""

from __future__ import annotations

from functools import cache

from pydantic import Field

from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.identity import OutlierDetected
from idn_triggers.settings import HandlerSettings
from idn_triggers.summaries import summarise


class OutlierSettings(HandlerSettings):
    alert_score: float = Field(default=0.8, ge=0.0, le=1.0, alias="OUTLIER_ALERT_SCORE")


@cache
def settings() -> OutlierSettings:
    return OutlierSettings.from_env()


@trigger_handler("idn:outlier-detected")
def on_outlier(event: OutlierDetected, context: HandlerContext) -> None:
    alert = event.score is not None and event.score >= settings().alert_score
    summarise(
        context,
        "detected",
        "IDENTITY",
        event.identity.id,
        labels={"outlier_type": event.outlier_type, "score": event.score, "alert": alert},
        level="WARNING" if alert else "INFO",
    )
