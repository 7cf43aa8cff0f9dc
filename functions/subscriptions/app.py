"""Subscriptions custom resource: the stack's SailPoint subscriptions follow its parameters.

Create and Update make the subscriptions pointing at this stack's webhook URL match the
resource's properties (PATCHed in place when they exist); Delete removes them. The physical id is
the webhook base URL, so a changed URL makes CloudFormation delete the old set.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from idn_triggers.auth import AuthType, SecretsManagerCredentials
from idn_triggers.custom_resource import run_custom_resource
from idn_triggers.observability import keep_sdk_logs_free_of_secrets
from idn_triggers.sailpoint_api import SailPointClient
from idn_triggers.settings import SubscriptionsSettings
from idn_triggers.subscriptions import SubscriptionManager, SubscriptionSpec
from idn_triggers.token_store import provider_from_settings

settings = SubscriptionsSettings.from_env()
logger = Logger()
tracer = Tracer()
keep_sdk_logs_free_of_secrets()
api = SailPointClient(settings.tenant_api_url, provider_from_settings(settings))


def manager(webhook_base_url: str) -> SubscriptionManager:
    credential = None
    if settings.auth_type is not AuthType.NO_AUTH:
        assert settings.inbound_secret_id is not None
        credential = SecretsManagerCredentials(settings.inbound_secret_id, settings.auth_type, 0)()
    return SubscriptionManager(api, webhook_base_url, settings.auth_type, credential)


def specs(properties: dict[str, Any]) -> list[SubscriptionSpec]:
    triggers = [t.strip() for t in str(properties.get("TriggerIds", "")).split(",") if t.strip()]
    return [
        SubscriptionSpec(
            trigger_id=trigger,
            mode=properties.get("ResponseMode", "SYNC"),
            response_deadline=properties.get("ResponseDeadline", "PT1H"),
            filter=properties.get("Filter") or None,
            enabled=str(properties.get("Enabled", "true")).lower() == "true",
        )
        for trigger in triggers
    ]


def handle(event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    properties = event.get("ResourceProperties", {})
    if event["RequestType"] == "Delete":
        base = str(event.get("PhysicalResourceId", ""))
        removed = manager(base).remove_all() if base.startswith("http") else 0
        return base, {"Removed": removed}
    base = str(properties["WebhookBaseUrl"])
    ids = manager(base).apply(specs(properties))
    return base, {"SubscriptionIds": ",".join(ids.values())}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    logger.info("subscriptions change", extra={"request_type": event.get("RequestType")})
    run_custom_resource(event, handle)
