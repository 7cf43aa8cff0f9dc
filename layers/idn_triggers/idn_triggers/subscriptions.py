"""Subscriptions as code: the SailPoint subscriptions this stack should have, applied idempotently.

The stack's subscriptions are the ones whose URL starts with its webhook base URL (HTTP), or, for
EVENTBRIDGE subscriptions, the ones of its name prefix whose `eventBridgeConfig` is the stack's own
account and region. `apply` makes them match the desired list: PATCH what exists (in place), create
what is missing, delete what is no longer wanted. An EVENTBRIDGE subscription is only done once its
partner event source is associated with a bus and routed to the work queue: after creating it,
`apply` waits (bounded) for SailPoint to create the source, then wires it through `PartnerBuses`;
deleting one removes the rule and the bus first. The CloudFormation custom resource, local mode's
demo and `idn-triggers subscriptions` all go through here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field

from idn_triggers.auth import AuthType, InboundSecret
from idn_triggers.catalogue import known_triggers
from idn_triggers.event_buses import PartnerBuses, PartnerSourceNotFound, Route
from idn_triggers.eventbridge import partner_source_name
from idn_triggers.sailpoint_api import SailPointClient, SailPointNotFound, webhook_url

logger = Logger()
DispatchMode = Literal["SYNC", "ASYNC", "DYNAMIC"]
# Kept free at the end of a custom-resource invocation: delete what was just created, answer
# CloudFormation (3 PUTs of up to 10 s). Past the function's timeout no answer goes out at all.
ANSWER_RESERVE_SECONDS = 45.0


class SubscriptionConflict(Exception):
    """A REQUEST_RESPONSE trigger already has a subscription that is not this stack's."""


@dataclass(frozen=True)
class EventBridgeTarget:
    """Where EVENTBRIDGE subscriptions deliver: this account and region, wired to the work queue."""

    account: str
    region: str
    buses: PartnerBuses
    route: Route
    source_wait_seconds: float = 60.0
    time_left: Callable[[], float] | None = None  # seconds this invocation has left (Lambda context)

    def config(self) -> dict[str, str]:
        return {"awsAccount": self.account, "awsRegion": self.region}

    def wait_seconds(self) -> float:
        """How long to wait for one partner source: the configured wait, cut so that the answer to
        CloudFormation still goes out before the function times out."""
        if self.time_left is None:
            return self.source_wait_seconds
        return max(0.0, min(self.source_wait_seconds, self.time_left() - ANSWER_RESERVE_SECONDS))


class SubscriptionSpec(BaseModel):
    """One desired subscription (of this stack's receiver to one trigger)."""

    model_config = ConfigDict(frozen=True)

    trigger_id: str = Field(min_length=1)
    mode: DispatchMode = "SYNC"
    response_deadline: str = "PT1H"
    filter: str | None = None
    enabled: bool = True
    name: str | None = None


def auth_config(auth_type: AuthType, credential: InboundSecret | None) -> dict[str, Any]:
    """The httpConfig authentication part that makes SailPoint send our inbound credential."""
    config: dict[str, Any] = {"httpAuthenticationType": auth_type.value}
    if auth_type is AuthType.BEARER_TOKEN:
        assert credential is not None and credential.bearer_token is not None
        config["bearerTokenAuthConfig"] = {"bearerToken": credential.bearer_token.get_secret_value()}
    elif auth_type is AuthType.BASIC_AUTH:
        assert credential is not None and credential.password is not None
        config["basicAuthConfig"] = {
            "userName": credential.user_name,
            "password": credential.password.get_secret_value(),
        }
    return config


class SubscriptionManager:
    def __init__(
        self,
        api: SailPointClient,
        webhook_base_url: str,
        auth_type: AuthType,
        credential: InboundSecret | None,
        name_prefix: str = "sailpoint-event-triggers",
        *,
        event_bridge: EventBridgeTarget | None = None,
    ) -> None:
        self.api = api
        self.webhook_base_url = webhook_base_url.rstrip("/") + "/"
        self.auth_type = auth_type
        self.credential = credential
        self.name_prefix = name_prefix
        self.event_bridge = event_bridge  # set: this manager's subscriptions are EVENTBRIDGE ones

    def url(self, trigger_id: str) -> str:
        return self.webhook_base_url + trigger_id

    def body(self, spec: SubscriptionSpec) -> dict[str, Any]:
        """The subscription as SailPoint's create/replace API takes it."""
        body: dict[str, Any] = {
            "name": spec.name or f"{self.name_prefix} {spec.trigger_id}",
            "description": f"Managed by {self.name_prefix}; changes here are overwritten on deploy.",
            "triggerId": spec.trigger_id,
            "type": "HTTP",
            "responseDeadline": spec.response_deadline,
            "enabled": spec.enabled,
        }
        if self.event_bridge is not None:  # no response mode: request-response answers by callback
            body.update(type="EVENTBRIDGE", eventBridgeConfig=self.event_bridge.config())
            return body | ({"filter": spec.filter} if spec.filter else {})
        body["httpConfig"] = {
            "url": self.url(spec.trigger_id),
            "httpDispatchMode": spec.mode,
            **auth_config(self.auth_type, self.credential),
        }
        if spec.filter:
            body["filter"] = spec.filter
        return body

    def ours(self) -> dict[str, dict[str, Any]]:
        """This stack's subscriptions by trigger id."""
        if self.event_bridge is not None:
            config = self.event_bridge.config()
            return {
                s["triggerId"]: s
                for s in self.api.list_subscriptions()
                if s.get("type") == "EVENTBRIDGE"
                and s.get("eventBridgeConfig") == config
                and str(s.get("name", "")).startswith(f"{self.name_prefix} ")
            }
        return {
            s["triggerId"]: s
            for s in self.api.list_subscriptions()
            if webhook_url(s).startswith(self.webhook_base_url)
        }

    def apply(
        self, specs: list[SubscriptionSpec], previous: SubscriptionManager | None = None
    ) -> dict[str, str]:
        """Make this stack's subscriptions exactly `specs`; returns trigger id -> subscription id.

        `previous`: the same stack's subscriptions before a change of URL, stage or transport
        (CloudFormation creates the replacement first and deletes the old one after). A wanted
        trigger found there is moved in place (HTTP to HTTP: PATCHed to the new URL) or, between
        types SailPoint cannot change in place, deleted before the new one is created, so a
        request-response trigger's one subscription is never in the way.
        """
        wanted = {spec.trigger_id: spec for spec in specs}
        existing = self.ours()
        if previous is not None:
            for trigger_id, subscription in previous.ours().items():
                if trigger_id not in wanted or trigger_id in existing:
                    continue
                if previous.event_bridge is None and self.event_bridge is None:
                    existing[trigger_id] = subscription
                else:
                    previous._remove(subscription)
        self._check_limits([spec for spec in specs if spec.trigger_id not in existing])
        ids: dict[str, str] = {}
        for trigger_id, spec in wanted.items():
            if trigger_id in existing:
                ids[trigger_id] = self._update(existing[trigger_id], spec)
            else:
                ids[trigger_id] = str(self.api.create_subscription(self.body(spec))["id"])
                logger.info(
                    "subscription created",
                    extra={"trigger_id": trigger_id, "subscription_id": ids[trigger_id]},
                )
                self._wire_new(trigger_id, ids[trigger_id])
        for trigger_id, subscription in existing.items():
            if trigger_id not in wanted:
                self._remove(subscription)
        return ids

    def remove_all(self) -> int:
        """Delete this stack's subscriptions (a missing one counts as deleted)."""
        existing = self.ours()
        for subscription in existing.values():
            self._remove(subscription)
        return len(existing)

    def source_name(self, trigger_id: str, subscription_id: str) -> str:
        return partner_source_name(subscription_id, trigger_id)

    def _wire_new(self, trigger_id: str, subscription_id: str) -> None:
        """EVENTBRIDGE: wait for the partner source, then associate it; on failure the subscription
        just created is deleted again, so a failed deploy leaves nothing behind."""
        if self.event_bridge is None:
            return
        source = self.source_name(trigger_id, subscription_id)
        wait = self.event_bridge.wait_seconds()
        try:
            self.event_bridge.buses.wait_for_source(source, wait)
            self.event_bridge.buses.associate(source, self.event_bridge.route)
        except PartnerSourceNotFound as error:
            self._delete(subscription_id)
            if wait < self.event_bridge.source_wait_seconds:
                raise PartnerSourceNotFound(
                    f"{error} (cut short: this deploy's function had {wait:.0f} s left to wait; "
                    "subscribe fewer EVENTBRIDGE triggers per deploy or lower PartnerSourceWaitSeconds)"
                ) from None
            raise
        except Exception:
            self._delete(subscription_id)
            raise

    def _update(self, existing: dict[str, Any], spec: SubscriptionSpec) -> str:
        """PATCH in place: the subscription keeps its id (and SailPoint its history)."""
        subscription_id = str(existing["id"])
        body = self.body(spec)
        config_key = "httpConfig" if self.event_bridge is None else "eventBridgeConfig"
        operations = [
            {"op": "replace", "path": f"/{key}", "value": body[key]}
            for key in ("name", "description", "enabled", "responseDeadline", config_key)
        ]
        if spec.filter:
            operations.append({"op": "add", "path": "/filter", "value": spec.filter})
        elif existing.get("filter"):
            operations.append({"op": "remove", "path": "/filter"})
        self.api.patch_subscription(subscription_id, operations)
        logger.info(
            "subscription updated", extra={"trigger_id": spec.trigger_id, "subscription_id": subscription_id}
        )
        if self.event_bridge is not None:  # the served triggers or the queue may have changed
            self.event_bridge.buses.associate(
                self.source_name(spec.trigger_id, subscription_id), self.event_bridge.route
            )
        return subscription_id

    def _remove(self, subscription: dict[str, Any]) -> None:
        """Delete one of ours: for EVENTBRIDGE the rule and the bus first, then the subscription."""
        if self.event_bridge is not None:
            source = self.source_name(str(subscription["triggerId"]), str(subscription["id"]))
            self.event_bridge.buses.dissociate(source, self.event_bridge.route.rule_name)
        self._delete(str(subscription["id"]))

    def _delete(self, subscription_id: str) -> None:
        try:
            self.api.delete_subscription(subscription_id)
        except SailPointNotFound:
            return
        logger.info("subscription deleted", extra={"subscription_id": subscription_id})

    def _check_limits(self, new: list[SubscriptionSpec]) -> None:
        """SailPoint allows one subscription per REQUEST_RESPONSE trigger: name the one in the way."""
        catalogue = known_triggers()
        single = [
            s.trigger_id
            for s in new
            if s.trigger_id in catalogue and catalogue[s.trigger_id].is_request_response
        ]
        if not single:
            return
        for subscription in self.api.list_subscriptions():
            if subscription.get("triggerId") in single:
                raise SubscriptionConflict(
                    f"{subscription['triggerId']} allows one subscription and already has "
                    f"'{subscription.get('name')}' ({subscription.get('id')}, "
                    f"{webhook_url(subscription) or subscription.get('type') or 'no URL'}); "
                    "delete it or remove the trigger"
                )
