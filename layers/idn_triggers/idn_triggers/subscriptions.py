"""Subscriptions as code: the SailPoint subscriptions this stack should have, applied idempotently.

The stack's subscriptions are the ones whose URL starts with its webhook base URL. `apply` makes
them match the desired list: PATCH what exists (in place), create what is missing, delete what is
no longer wanted. The CloudFormation custom resource and local mode's demo both go through here.
"""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field

from idn_triggers.auth import AuthType, InboundSecret
from idn_triggers.catalogue import known_triggers
from idn_triggers.sailpoint_api import SailPointClient, SailPointNotFound

logger = Logger()
DispatchMode = Literal["SYNC", "ASYNC", "DYNAMIC"]


class SubscriptionConflict(Exception):
    """A REQUEST_RESPONSE trigger already has a subscription that is not this stack's."""


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
    ) -> None:
        self.api = api
        self.webhook_base_url = webhook_base_url.rstrip("/") + "/"
        self.auth_type = auth_type
        self.credential = credential
        self.name_prefix = name_prefix

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
            "httpConfig": {
                "url": self.url(spec.trigger_id),
                "httpDispatchMode": spec.mode,
                **auth_config(self.auth_type, self.credential),
            },
        }
        if spec.filter:
            body["filter"] = spec.filter
        return body

    def ours(self) -> dict[str, dict[str, Any]]:
        """This stack's subscriptions by trigger id."""
        return {
            s["triggerId"]: s
            for s in self.api.list_subscriptions()
            if str(s.get("httpConfig", {}).get("url", "")).startswith(self.webhook_base_url)
        }

    def apply(self, specs: list[SubscriptionSpec]) -> dict[str, str]:
        """Make this stack's subscriptions exactly `specs`; returns trigger id -> subscription id."""
        wanted = {spec.trigger_id: spec for spec in specs}
        existing = self.ours()
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
        for trigger_id, subscription in existing.items():
            if trigger_id not in wanted:
                self._delete(str(subscription["id"]))
        return ids

    def remove_all(self) -> int:
        """Delete this stack's subscriptions (a missing one counts as deleted)."""
        existing = self.ours()
        for subscription in existing.values():
            self._delete(str(subscription["id"]))
        return len(existing)

    def _update(self, existing: dict[str, Any], spec: SubscriptionSpec) -> str:
        """PATCH in place: the subscription keeps its id (and SailPoint its history)."""
        subscription_id = str(existing["id"])
        body = self.body(spec)
        operations = [
            {"op": "replace", "path": f"/{key}", "value": body[key]}
            for key in ("name", "description", "enabled", "responseDeadline", "httpConfig")
        ]
        if spec.filter:
            operations.append({"op": "add", "path": "/filter", "value": spec.filter})
        elif existing.get("filter"):
            operations.append({"op": "remove", "path": "/filter"})
        self.api.patch_subscription(subscription_id, operations)
        logger.info(
            "subscription updated", extra={"trigger_id": spec.trigger_id, "subscription_id": subscription_id}
        )
        return subscription_id

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
                    f"{subscription.get('httpConfig', {}).get('url', 'no URL')}); delete it or remove the trigger"
                )
