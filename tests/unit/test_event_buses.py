"""Partner buses: the rule's pattern and target, and the bounded wait for SailPoint's partner source.

The EventBridge client is a fake that answers as boto3 does (ClientError codes); moto-backed
behaviour is in tests/integration/test_subscriptions_resource.py and test_eventbridge_moto.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from idn_triggers.event_buses import (
    MAX_RULE_NAME,
    PartnerBuses,
    PartnerSourceNotFound,
    Route,
    event_pattern,
    rule_name,
)

SOURCE = "aws.partner/sailpoint.com/54d68478-7e9b-46f5-ae82-89a5055df5f2/idn/identity-created"


def not_found(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, operation)


@dataclass
class FakeEvents:
    """Sources appear after `appears_after` describe calls; buses and calls are recorded."""

    appears_after: int | None = 0
    buses: set[str] = field(default_factory=set)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    describes: int = 0

    def describe_event_source(self, **kwargs: Any) -> dict[str, Any]:
        self.describes += 1
        if self.appears_after is None or self.describes <= self.appears_after:
            raise not_found("DescribeEventSource")
        return {"Name": kwargs["Name"], "State": "PENDING"}

    def describe_event_bus(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs["Name"] not in self.buses:
            raise not_found("DescribeEventBus")
        return {"Name": kwargs["Name"]}

    def create_event_bus(self, **kwargs: Any) -> None:
        self.calls.append(("create_event_bus", kwargs))
        self.buses.add(kwargs["Name"])

    def delete_event_bus(self, **kwargs: Any) -> None:
        self.calls.append(("delete_event_bus", kwargs))
        if kwargs["Name"] not in self.buses:
            raise not_found("DeleteEventBus")
        self.buses.discard(kwargs["Name"])

    def __getattr__(self, name: str) -> Any:
        def record(**kwargs: Any) -> dict[str, Any]:
            self.calls.append((name, kwargs))
            return {"FailedEntryCount": 0}

        return record


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


ROUTE = Route(work_queue_arn="arn:work", dead_letter_queue_arn="arn:dlq", rule_name="stack-to-work-queue")


def test_the_pattern_takes_every_sailpoint_event_or_only_the_served_triggers() -> None:
    assert event_pattern(["*"]) == {"source": [{"prefix": "aws.partner/sailpoint.com/"}]}
    assert event_pattern(["idn:b", "idn:a"])["detail-type"] == ["idn:a", "idn:b"]


def test_a_rule_name_is_valid_whatever_the_stack_name() -> None:
    name = rule_name("my stack/" + "x" * 200)
    assert len(name) <= MAX_RULE_NAME and name.endswith("-to-work-queue") and " " not in name


def test_associating_creates_the_bus_named_after_the_source_and_a_target_with_dlq_and_retries() -> None:
    events = FakeEvents()
    PartnerBuses(events).associate(SOURCE, ROUTE)
    assert ("create_event_bus", {"Name": SOURCE, "EventSourceName": SOURCE}) in events.calls
    [(_, targets)] = [call for call in events.calls if call[0] == "put_targets"]
    [target] = targets["Targets"]
    assert target["Arn"] == "arn:work" and target["DeadLetterConfig"] == {"Arn": "arn:dlq"}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}


def test_the_wait_returns_once_the_source_appears() -> None:
    clock = Clock()
    events = FakeEvents(appears_after=3)
    PartnerBuses(events, sleep=clock.sleep, clock=clock, poll_seconds=2).wait_for_source(SOURCE, 60)
    assert events.describes == 4 and clock.now == 6


def test_the_wait_is_bounded_and_names_the_source_and_what_to_check() -> None:
    clock = Clock()
    buses = PartnerBuses(FakeEvents(appears_after=None), sleep=clock.sleep, clock=clock, poll_seconds=2)
    with pytest.raises(PartnerSourceNotFound, match="did not appear within 10 s") as raised:
        buses.wait_for_source(SOURCE, 10)
    assert SOURCE in str(raised.value) and "eventBridgeConfig" in str(raised.value)
    assert clock.now == 10


def test_a_source_without_its_bus_is_pending_and_one_with_it_is_not() -> None:
    events = FakeEvents()
    buses = PartnerBuses(events)
    assert buses.is_pending(SOURCE)
    events.buses.add(SOURCE)
    events.describe_event_source = lambda **_: {"State": "ACTIVE"}  # type: ignore[method-assign]
    assert not buses.is_pending(SOURCE)


def test_removing_what_is_already_gone_succeeds() -> None:
    events = FakeEvents()
    PartnerBuses(events).dissociate(SOURCE, "stack-to-work-queue")
    assert [name for name, _ in events.calls] == ["remove_targets", "delete_rule", "delete_event_bus"]
