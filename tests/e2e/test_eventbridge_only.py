"""Local mode with Transport=EVENTBRIDGE: no API, no inbound credential; the partner sources the
template lists get their bus and rule, and events on them reach the handlers through the worker."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from idn_local.runner import LocalOptions, LocalRunner
from idn_triggers.catalogue import trigger_document
from idn_triggers.eventbridge import partner_source_name
from idn_triggers.handlers import HandlerContext, TriggerHandler

TRIGGER = "idn:identity-created"
SOURCE = partner_source_name("54d68478-7e9b-46f5-ae82-89a5055df5f2", TRIGGER)
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def handled() -> Iterator[list[tuple[str, str | None]]]:
    calls: list[tuple[str, str | None]] = []
    original = TriggerHandler.__call__

    def spy(self: TriggerHandler, event: Any, context: HandlerContext) -> Any:
        calls.append((self.trigger_id, context.invocation_id))
        return original(self, event, context)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TriggerHandler, "__call__", spy)
        yield calls


@pytest.fixture(scope="module")
def local(handled: list[tuple[str, str | None]]) -> Iterator[LocalRunner]:
    overrides = {"Transport": "EVENTBRIDGE", "PartnerEventSources": SOURCE}
    with LocalRunner(LocalOptions(port=0, parameter_overrides=overrides)) as runner:
        yield runner


def test_there_is_no_receiver_api_nor_inbound_credential(local: LocalRunner) -> None:
    assert local.stack is not None
    assert not {"TriggersApi", "ReceiverFunction", "InboundCredentialSecret"} & set(local.stack.resources)
    assert "ReceiverFunction" not in local.functions and "WorkerFunction" in local.functions


def test_a_listed_partner_source_is_associated_and_its_events_reach_the_handler(
    local: LocalRunner, handled: list[tuple[str, str | None]]
) -> None:
    # Given the partner bus the template associated
    events = boto3.client("events", endpoint_url=local.aws_endpoint, region_name="us-east-1")
    assert events.describe_event_bus(Name=SOURCE)["Name"] == SOURCE
    # When SailPoint puts an event on it
    invocation_id = str(uuid.uuid4())
    detail = {
        **trigger_document(TRIGGER)["exampleInput"],
        "_metadata": {"triggerType": "fireAndForget", "invocationId": invocation_id, "triggerId": TRIGGER},
    }
    events.put_events(
        Entries=[
            {"Source": SOURCE, "DetailType": TRIGGER, "Detail": json.dumps(detail), "EventBusName": SOURCE}
        ]
    )
    # Then its handler runs, once, with SailPoint's invocation id
    end = time.monotonic() + 15
    while (TRIGGER, invocation_id) not in handled and time.monotonic() < end:
        time.sleep(0.05)
    assert handled.count((TRIGGER, invocation_id)) == 1
