"""Inbound credential rotator: Secrets Manager's rotation function for the receiver's credential.

Secrets Manager calls it four times per rotation (createSecret, setSecret, testSecret,
finishSecret); the steps live in `idn_triggers.rotation`. An operator invokes it with
`{"action": "revokePrevious", "SecretId": ...}` to end the replaced credential's validity at once.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from idn_triggers.deprecations import DEPRECATIONS
from idn_triggers.observability import keep_sdk_logs_free_of_secrets
from idn_triggers.rotation import InboundRotation
from idn_triggers.sailpoint_api import SailPointClient
from idn_triggers.settings import RotatorSettings
from idn_triggers.token_store import budget_from_settings, provider_from_settings

settings = RotatorSettings.from_env()
DEPRECATIONS.metrics = True
budget = budget_from_settings(settings)  # SailPoint's per-client budget, shared with every function
logger = Logger()
tracer = Tracer()
keep_sdk_logs_free_of_secrets()
rotation = InboundRotation(
    boto3.client("secretsmanager"),
    SailPointClient(settings.tenant_api_url, provider_from_settings(settings, budget), budget=budget),
    settings.auth_type,
    settings.webhook_base_url,
    propagation_seconds=settings.propagation_seconds,
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    if event.get("action") == "revokePrevious":  # an operator's `aws lambda invoke` (SECURITY.md)
        return {"revoked": rotation.revoke_previous(str(event["SecretId"]))}
    logger.info("rotation step", extra={"step": event.get("Step")})
    rotation.run(str(event["Step"]), str(event["SecretId"]), str(event["ClientRequestToken"]))
    return None
