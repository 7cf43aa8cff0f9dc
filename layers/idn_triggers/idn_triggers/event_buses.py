"""Partner event buses: associate SailPoint's partner event sources and route them to the work queue.

An EVENTBRIDGE subscription makes SailPoint create a partner event source in the account; nothing is
delivered until an event bus named after the source is created with `EventSourceName` (the source
is PENDING until then). On that bus one rule routes the served trigger ids (`detail-type`) to the
work queue, with a dead-letter queue and a retry policy on the target. The subscriptions custom
resource (subscriptions made as code), the partner-buses custom resource (sources listed in the
template) and local mode all go through `PartnerBuses`, so there is one way a bus gets wired.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from idn_triggers.eventbridge import PARTNER_SOURCE_PREFIX

logger = Logger()
TARGET_ID = "work-queue"
MAX_RULE_NAME = 64
# EventBridge's own maximum: a target is retried for up to 24 hours, 185 attempts.
MAX_RETRY_ATTEMPTS = 185
MAX_EVENT_AGE_SECONDS = 86400


class PartnerSourceNotFound(Exception):
    """The partner event source did not appear in time: the subscription's account or region is wrong,
    or SailPoint has not created it yet."""


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def rule_name(owner: str) -> str:
    """A valid rule name (64 characters of `.-_A-Za-z0-9`) for the stack that owns the rule."""
    cleaned = "".join(c if c.isalnum() or c in ".-_" else "-" for c in owner) or "sailpoint-triggers"
    return f"{cleaned[: MAX_RULE_NAME - len('-to-work-queue')]}-to-work-queue"


def event_pattern(enabled_triggers: Sequence[str]) -> dict[str, Any]:
    """SailPoint events of the served trigger ids (`*`: every trigger)."""
    pattern: dict[str, Any] = {"source": [{"prefix": PARTNER_SOURCE_PREFIX}]}
    served = [t for t in enabled_triggers if t and t != "*"]
    if served and "*" not in enabled_triggers:
        pattern["detail-type"] = sorted(served)
    return pattern


@dataclass(frozen=True)
class Route:
    """Where a partner bus's rule sends the events: the work queue, with a dead-letter queue."""

    work_queue_arn: str
    dead_letter_queue_arn: str
    rule_name: str
    enabled_triggers: tuple[str, ...] = ("*",)
    max_retry_attempts: int = MAX_RETRY_ATTEMPTS
    max_event_age_seconds: int = MAX_EVENT_AGE_SECONDS

    def target(self) -> dict[str, Any]:
        return {
            "Id": TARGET_ID,
            "Arn": self.work_queue_arn,
            "DeadLetterConfig": {"Arn": self.dead_letter_queue_arn},
            "RetryPolicy": {
                "MaximumRetryAttempts": self.max_retry_attempts,
                "MaximumEventAgeInSeconds": self.max_event_age_seconds,
            },
        }


@dataclass
class PartnerBuses:
    """Operations on partner buses through a boto3 EventBridge client."""

    events: Any
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    poll_seconds: float = 2.0

    def source_state(self, source_name: str) -> str | None:
        """The partner source's state (PENDING, ACTIVE, DELETED), or None when it does not exist."""
        try:
            answer = self.events.describe_event_source(Name=source_name)
        except Exception as error:
            if _code(error) == "ResourceNotFoundException":
                return None
            raise
        return str(answer.get("State", "ACTIVE"))

    def wait_for_source(self, source_name: str, timeout_seconds: float) -> None:
        """Poll until the partner source exists; PartnerSourceNotFound after `timeout_seconds`."""
        end = self.clock() + timeout_seconds
        while True:
            state = self.source_state(source_name)
            if state is not None and state != "DELETED":
                return
            if self.clock() >= end:
                raise PartnerSourceNotFound(
                    f"partner event source {source_name} did not appear within {timeout_seconds:.0f} s: "
                    "check the subscription's eventBridgeConfig (AWS account and region of this stack) "
                    "and that the tenant can deliver to EventBridge"
                )
            self.sleep(self.poll_seconds)

    def bus_exists(self, source_name: str) -> bool:
        try:
            self.events.describe_event_bus(Name=source_name)
        except Exception as error:
            if _code(error) == "ResourceNotFoundException":
                return False
            raise
        return True

    def is_pending(self, source_name: str) -> bool:
        """A source that exists but is not associated with a bus (SailPoint's events go nowhere)."""
        state = self.source_state(source_name)
        if state is None or state == "DELETED":
            return False
        return state == "PENDING" or not self.bus_exists(source_name)

    def associate(self, source_name: str, route: Route) -> None:
        """Create the partner bus (if missing) and put the rule and its target (idempotent)."""
        if not self.bus_exists(source_name):
            try:
                self.events.create_event_bus(Name=source_name, EventSourceName=source_name)
            except Exception as error:
                if _code(error) != "ResourceAlreadyExistsException":
                    raise
        self.events.put_rule(
            Name=route.rule_name,
            EventBusName=source_name,
            EventPattern=json.dumps(event_pattern(route.enabled_triggers)),
            State="ENABLED",
            Description="SailPoint trigger events to the work queue (sailpoint-event-triggers)",
        )
        answer = self.events.put_targets(
            Rule=route.rule_name, EventBusName=source_name, Targets=[route.target()]
        )
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"put_targets on {source_name} failed: {answer.get('FailedEntries')}")
        logger.info("partner event bus associated", extra={"event_source": source_name})

    def dissociate(self, source_name: str, rule: str) -> None:
        """Remove the rule and the bus; what is already gone counts as removed."""
        steps: list[tuple[Callable[..., Any], dict[str, Any]]] = [
            (self.events.remove_targets, {"Rule": rule, "EventBusName": source_name, "Ids": [TARGET_ID]}),
            (self.events.delete_rule, {"Name": rule, "EventBusName": source_name}),
            (self.events.delete_event_bus, {"Name": source_name}),
        ]
        for call, arguments in steps:
            try:
                call(**arguments)
            except Exception as error:
                if _code(error) != "ResourceNotFoundException":
                    raise
        logger.info("partner event bus removed", extra={"event_source": source_name})


def events_client() -> Any:
    """A boto3 EventBridge client (imported on first use: only the custom resources need it)."""
    import boto3

    return boto3.client("events")
