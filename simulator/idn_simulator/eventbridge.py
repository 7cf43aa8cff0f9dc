"""EVENTBRIDGE subscriptions: the simulated tenant's side of SailPoint's EventBridge partner integration.

Creating an EVENTBRIDGE subscription makes SailPoint create a partner event source in the
subscription's AWS account and region, named `aws.partner/sailpoint.com/{subscription id}/idn/{name}`;
each invocation is then an event on the bus of that name: `detail-type` is the trigger id, `detail`
the input plus `_metadata` (`invocationId`, `triggerId`, `triggerType`, and `callbackURL` + `secret`
for request-response triggers).

The simulator talks only to the AWS endpoint it is given (`SimulatorConfig.aws_endpoint_url`, e.g.
moto's server in local mode), never to real AWS: without one, EVENTBRIDGE deliveries fail with that
reason. Events go by `PutEvents` with `EventBusName` = the source name (what a partner's
`PutPartnerEvents` achieves on AWS; moto's version of the latter ignores the bus).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime
from typing import Any

from .config import SimulatorConfig

log = logging.getLogger("idn_simulator")
SOURCE_PREFIX = "aws.partner/sailpoint.com/"


class EventBridgeUnavailable(Exception):
    """No AWS endpoint is configured, or it refused the call; the message is the reason."""


def source_name(subscription_id: str, trigger_id: str) -> str:
    return f"{SOURCE_PREFIX}{subscription_id}/idn/{trigger_id.removeprefix('idn:')}"


def envelope_detail(
    payload: dict[str, Any],
    *,
    invocation_id: str,
    trigger_id: str,
    request_response: bool,
    callback_url: str | None,
    secret: str | None,
) -> dict[str, Any]:
    """The event's `detail`: the trigger input plus SailPoint's `_metadata`."""
    metadata: dict[str, Any] = {
        "triggerType": "requestResponse" if request_response else "fireAndForget",
        "invocationId": invocation_id,
        "triggerId": trigger_id,
    }
    if request_response:
        metadata.update(callbackURL=callback_url, secret=secret)
    return {**payload, "_metadata": metadata}


class PartnerEvents:
    """Boto3 EventBridge clients of the configured endpoint, one per region, created on first use."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return bool(self.config.aws_endpoint_url)

    def client(self, region: str) -> Any:
        if not self.config.aws_endpoint_url:
            raise EventBridgeUnavailable("the simulator has no AWS endpoint (--aws-endpoint-url)")
        with self._lock:
            if region not in self._clients:
                import boto3

                self._clients[region] = boto3.client(
                    "events",
                    endpoint_url=self.config.aws_endpoint_url,
                    region_name=region,
                    aws_access_key_id="simulator",  # the endpoint is an emulator: no real credentials
                    aws_secret_access_key="simulator",  # noqa: S106 - a local emulator's throw-away value
                )
            return self._clients[region]

    def create_source(self, name: str, account: str, region: str) -> None:
        """What SailPoint does when an EVENTBRIDGE subscription is created."""
        if not self.available:
            log.warning("no AWS endpoint: partner event source %s not created", name)
            return
        try:
            self.client(region).create_partner_event_source(Name=name, Account=account)
        except Exception as error:  # the subscription stays; deliveries will say why they fail
            log.warning("partner event source %s not created: %s", name, type(error).__name__)

    def delete_source(self, name: str, account: str, region: str) -> None:
        if not self.available:
            return
        try:
            self.client(region).delete_partner_event_source(Name=name, Account=account)
        except Exception as error:
            log.info("partner event source %s not deleted: %s", name, type(error).__name__)

    def put(self, *, source: str, region: str, trigger_id: str, detail: dict[str, Any], at: datetime) -> str:
        """PutEvents one invocation to the partner bus; returns the event id, raises with a reason."""
        try:
            answer = self.client(region).put_events(
                Entries=[
                    {
                        "Source": source,
                        "DetailType": trigger_id,
                        "Detail": json.dumps(detail),
                        "EventBusName": source,
                        "Time": at,
                        "Resources": [],
                    }
                ]
            )
        except EventBridgeUnavailable:
            raise
        except Exception as error:
            raise EventBridgeUnavailable(f"PutEvents failed: {type(error).__name__}") from None
        entry = (answer.get("Entries") or [{}])[0]
        if answer.get("FailedEntryCount") or "EventId" not in entry:
            raise EventBridgeUnavailable(f"PutEvents refused the event: {entry.get('ErrorCode', 'unknown')}")
        return str(entry["EventId"])
