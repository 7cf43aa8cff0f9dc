"""Subscriptions custom resource: the stack's SailPoint subscriptions follow its parameters.

Create and Update make the subscriptions pointing at this stack's webhook URL match the
resource's properties (PATCHed in place when they exist); Delete removes them. The physical id is
the webhook base URL, so a changed URL makes CloudFormation delete the old set.

With `SubscriptionType: EVENTBRIDGE` the subscriptions deliver to this stack's own account and region;
each one's partner event source is awaited (bounded), associated with a bus and routed to the work
queue, and Delete removes rule, bus and subscription. The physical id is then
`eventbridge:{account}:{region}:{owner}`.

The same function serves `Custom::SailPointPartnerEventBuses`: partner sources of subscriptions made
by hand (listed in the template), associated and routed the same way; Delete removes rules and buses.
And `Custom::FunctionConfigurations`: a digest per function of its parameter-made configuration,
which the receiver's and the worker's version descriptions carry (a change publishes a new version).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from idn_triggers.auth import AuthType, SecretsManagerCredentials
from idn_triggers.custom_resource import configuration_digests, run_custom_resource
from idn_triggers.deprecations import DEPRECATIONS
from idn_triggers.event_buses import PartnerBuses, PartnerSourceNotFound, Route, events_client, rule_name
from idn_triggers.observability import keep_sdk_logs_free_of_secrets
from idn_triggers.sailpoint_api import SailPointClient
from idn_triggers.settings import SubscriptionsSettings
from idn_triggers.subscriptions import EventBridgeTarget, SubscriptionManager, SubscriptionSpec
from idn_triggers.token_store import budget_from_settings, provider_from_settings

settings = SubscriptionsSettings.from_env()
logger = Logger()
tracer = Tracer()
keep_sdk_logs_free_of_secrets()
DEPRECATIONS.metrics = True
budget = budget_from_settings(settings)  # SailPoint's per-client budget, shared with every function
api = SailPointClient(settings.tenant_api_url, provider_from_settings(settings, budget), budget=budget)
PARTNER_BUSES_TYPE = "Custom::SailPointPartnerEventBuses"
CONFIGURATIONS_TYPE = "Custom::FunctionConfigurations"


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


def route(properties: dict[str, Any]) -> Route:
    """The rule every partner bus of this stack gets: served triggers to the work queue, with a DLQ."""
    enabled = tuple(t.strip() for t in str(properties.get("EnabledTriggers", "*")).split(",") if t.strip())
    return Route(
        work_queue_arn=str(properties["WorkQueueArn"]),
        dead_letter_queue_arn=str(properties["EventsDeadLetterQueueArn"]),
        rule_name=rule_name(str(properties.get("Owner", "sailpoint-triggers"))),
        enabled_triggers=enabled or ("*",),
    )


def event_bridge_manager(
    properties: dict[str, Any], time_left: Callable[[], float] | None = None
) -> SubscriptionManager:
    owner = str(properties.get("Owner", "sailpoint-triggers"))
    target = EventBridgeTarget(
        account=str(properties["AwsAccount"]),
        region=str(properties["AwsRegion"]),
        buses=PartnerBuses(events_client()),
        route=route(properties),
        source_wait_seconds=float(properties.get("SourceWaitSeconds", 60)),
        time_left=time_left,
    )
    return SubscriptionManager(
        api,
        "",
        settings.auth_type,
        None,
        name_prefix=f"sailpoint-event-triggers {owner}",
        event_bridge=target,
    )


def handle_partner_buses(event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Associate (or on Delete remove) the partner sources the template lists."""
    properties = event.get("ResourceProperties", {})
    old = event.get("OldResourceProperties", {})
    sources = [s.strip() for s in str(properties.get("SourceNames", "")).split(",") if s.strip()]
    buses = PartnerBuses(events_client())
    physical_id = f"partner-buses:{properties.get('Owner', '')}"
    if event["RequestType"] == "Delete":
        for source in sources:
            buses.dissociate(source, rule_name(str(properties.get("Owner", ""))))
        return str(event.get("PhysicalResourceId", physical_id)), {"Removed": len(sources)}
    wired = route(properties)
    for source in sources:
        if buses.source_state(source) is None:
            raise PartnerSourceNotFound(
                f"partner event source {source} does not exist in this account and region: "
                "create the EVENTBRIDGE subscription first, with this stack's account and region"
            )
        buses.associate(source, wired)
    dropped = [s.strip() for s in str(old.get("SourceNames", "")).split(",") if s.strip() not in sources]
    for source in filter(None, dropped):
        buses.dissociate(source, rule_name(str(old.get("Owner", ""))))
    return physical_id, {"Associated": len(sources)}


def previous_manager(event: dict[str, Any], new_physical_id: str) -> SubscriptionManager | None:
    """On an Update that changes the physical id (URL, stage or transport): the old set's manager."""
    old_id = str(event.get("PhysicalResourceId", ""))
    if event["RequestType"] != "Update" or old_id == new_physical_id:
        return None
    if old_id.startswith("eventbridge:"):
        return event_bridge_manager(event.get("OldResourceProperties", {}))
    return manager(old_id) if old_id.startswith("http") else None


def handle(event: dict[str, Any], time_left: Callable[[], float] | None = None) -> tuple[str, dict[str, Any]]:
    properties = event.get("ResourceProperties", {})
    if event.get("ResourceType") == PARTNER_BUSES_TYPE:
        return handle_partner_buses(event)
    if event.get("ResourceType") == CONFIGURATIONS_TYPE:  # nothing to create or delete: digests only
        return "function-configurations", configuration_digests(properties)
    if event["RequestType"] == "Delete" and str(event.get("PhysicalResourceId", "")).startswith(
        "eventbridge:"
    ):
        removed = event_bridge_manager(properties).remove_all()
        return str(event["PhysicalResourceId"]), {"Removed": removed}
    if event["RequestType"] != "Delete" and properties.get("SubscriptionType") == "EVENTBRIDGE":
        manager_ = event_bridge_manager(properties, time_left)
        physical_id = (
            f"eventbridge:{properties['AwsAccount']}:{properties['AwsRegion']}:{properties.get('Owner', '')}"
        )
        ids = manager_.apply(specs(properties), previous_manager(event, physical_id))
        return physical_id, {"SubscriptionIds": ",".join(ids.values())}
    if event["RequestType"] == "Delete":
        base = str(event.get("PhysicalResourceId", ""))
        removed = manager(base).remove_all() if base.startswith("http") else 0
        return base, {"Removed": removed}
    base = str(properties["WebhookBaseUrl"])
    ids = manager(base).apply(specs(properties), previous_manager(event, base))
    return base, {"SubscriptionIds": ",".join(ids.values())}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    logger.info("subscriptions change", extra={"request_type": event.get("RequestType")})
    run_custom_resource(
        event, partial(handle, time_left=lambda: context.get_remaining_time_in_millis() / 1000)
    )
