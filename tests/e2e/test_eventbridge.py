"""HTTP and EventBridge side by side in local mode (Transport=BOTH): the same handlers, the same answers.

Every trigger's example input is fired once to an HTTP subscription (the simulator POSTs to the
receiver) and once to an EVENTBRIDGE subscription made as code (the simulator creates the partner
source in moto and puts the event on its bus; the subscription manager associated the bus and put the
rule to the work queue). The handler calls are recorded by wrapping `TriggerHandler.__call__`, so
what is compared is what the user's handlers received.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from idn_simulator import InvocationRecord, InvocationState
from idn_triggers.auth import AuthType, InboundSecret
from idn_triggers.catalogue import known_triggers, trigger_document
from idn_triggers.eventbridge import partner_source_name
from idn_triggers.handlers import HandlerContext, HandlerRegistry, TriggerHandler
from idn_triggers.subscriptions import SubscriptionManager, SubscriptionSpec
from tests.product_handlers import HANDLER_EXCEPTIONS, PACKAGE

TOKEN = "e2e-eventbridge-token"
pytestmark = pytest.mark.e2e
REGISTRY = HandlerRegistry(PACKAGE, HANDLER_EXCEPTIONS)
TRIGGERS = sorted(
    t for t in known_triggers() if REGISTRY.has_handler(t) and trigger_document(t).get("exampleInput")
)
REQUEST_RESPONSE = [t for t in TRIGGERS if known_triggers()[t].is_request_response]


class HandlerCalls:
    """What every handler was called with, from any thread (receiver or worker)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, Any], HandlerContext]] = []

    def record(self, trigger_id: str, event: Any, context: HandlerContext) -> None:
        with self.lock:
            self.calls.append((trigger_id, event.model_dump(mode="json", by_alias=True), context))

    def of(self, trigger_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [event for t, event, _ in self.calls if t == trigger_id]


@pytest.fixture(scope="module")
def calls() -> Iterator[HandlerCalls]:
    recorded = HandlerCalls()
    original = TriggerHandler.__call__

    def spy(self: TriggerHandler, event: Any, context: HandlerContext) -> Any:
        recorded.record(self.trigger_id, event, context)
        return original(self, event, context)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TriggerHandler, "__call__", spy)
        yield recorded


@pytest.fixture(scope="module")
def local(calls: HandlerCalls) -> Iterator[LocalRunner]:
    options = LocalOptions(
        port=0, auth=InboundAuth.parse(f"bearer:{TOKEN}"), parameter_overrides={"Transport": "BOTH"}
    )
    with LocalRunner(options) as runner:
        yield runner


def http_subscriptions(local: LocalRunner) -> SubscriptionManager:
    assert local.tenant is not None
    credential = InboundSecret.model_validate({"bearerToken": TOKEN})
    return SubscriptionManager(local.tenant, f"{local.api_url}/triggers/", AuthType.BEARER_TOKEN, credential)


def eventbridge_subscriptions(local: LocalRunner) -> SubscriptionManager:
    assert local.tenant is not None
    return SubscriptionManager(
        local.tenant,
        "",
        AuthType.NO_AUTH,
        None,
        name_prefix="e2e-eventbridge",
        event_bridge=local.event_bridge_target(source_wait_seconds=5),
    )


def fire_all(local: LocalRunner, timeout: float = 30) -> dict[str, InvocationRecord]:
    """Fire every trigger's example input once; wait until every invocation settled."""
    assert local.simulator is not None
    simulator = local.simulator
    started = {t: simulator.fire_event(t) for t in TRIGGERS}
    assert all(len(records) == 1 for records in started.values()), started
    ids = {records[0].id: t for t, records in started.items()}
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        records = {r.id: r for r in simulator.invocations() if r.id in ids}
        if all(r.settled for r in records.values()):
            return {ids[i]: r for i, r in records.items()}
        time.sleep(0.1)
    open_ = {
        ids[r.id]: (r.state, r.delivery, r.attempts)
        for r in simulator.invocations()
        if r.id in ids and not r.settled
    }
    raise AssertionError(f"not settled: {open_}")


@pytest.fixture(scope="module")
def both_paths(
    local: LocalRunner, calls: HandlerCalls
) -> dict[str, tuple[InvocationRecord, InvocationRecord]]:
    # request-response over HTTP in ASYNC mode: completed by the worker through the callback, as over
    # EventBridge (fire-and-forget subscriptions keep the default mode, which they ignore)
    specs = [
        SubscriptionSpec(trigger_id=t, mode="ASYNC" if t in REQUEST_RESPONSE else "SYNC") for t in TRIGGERS
    ]
    http = http_subscriptions(local)
    http.apply(specs)
    over_http = fire_all(local)
    http.remove_all()  # a request-response trigger takes one subscription: HTTP first, then EventBridge
    eventbridge = eventbridge_subscriptions(local)
    eventbridge.apply(specs)
    over_eventbridge = fire_all(local)
    eventbridge.remove_all()
    return {t: (over_http[t], over_eventbridge[t]) for t in TRIGGERS}


def test_every_trigger_is_delivered_and_completed_over_both_paths(
    both_paths: dict[str, tuple[InvocationRecord, InvocationRecord]],
) -> None:
    # Given every trigger fired once per path, Then each invocation completed at the simulator
    failed = {
        t: (h.failure, e.failure)
        for t, (h, e) in both_paths.items()
        if h.state is not InvocationState.COMPLETED or e.state is not InvocationState.COMPLETED
    }
    assert failed == {}
    assert all(e.url.startswith("eventbridge:aws.partner/sailpoint.com/") for _, e in both_paths.values())


def test_the_handlers_receive_equal_inputs_over_both_paths(
    both_paths: dict[str, tuple[InvocationRecord, InvocationRecord]], calls: HandlerCalls
) -> None:
    # Then each handler was called twice, with the same input
    for trigger_id in TRIGGERS:
        inputs = calls.of(trigger_id)
        assert len(inputs) == 2, trigger_id
        assert inputs[0] == inputs[1], trigger_id


def test_the_request_response_triggers_complete_alike_over_both_paths(
    both_paths: dict[str, tuple[InvocationRecord, InvocationRecord]],
) -> None:
    assert len(REQUEST_RESPONSE) == 2
    for trigger_id in REQUEST_RESPONSE:
        over_http, over_eventbridge = both_paths[trigger_id]
        assert over_http.completed_via == over_eventbridge.completed_via == "callback"
        assert over_http.output == over_eventbridge.output  # the dynamic approver's may be null
        assert (
            [a.accepted for a in over_http.attempts]
            == [a.accepted for a in over_eventbridge.attempts]
            == [True]
        )
    assert both_paths["idn:access-request-pre-approval"][1].output  # a real decision, not an empty one


def test_the_subscriptions_made_as_code_leave_no_bus_behind(
    local: LocalRunner, both_paths: dict[str, tuple[InvocationRecord, InvocationRecord]]
) -> None:
    # Given the EventBridge subscriptions were removed, Then their rules and buses are gone too
    events = boto3.client("events", endpoint_url=local.aws_endpoint, region_name="us-east-1")
    buses = [b["Name"] for b in events.list_event_buses()["EventBuses"]]
    assert [b for b in buses if b.startswith("aws.partner/")] == []
    assert local.tenant is not None and local.tenant.list_subscriptions() == []


def test_one_invocation_delivered_over_both_paths_is_handled_once(
    local: LocalRunner, calls: HandlerCalls, both_paths: Any
) -> None:
    # Given one fire-and-forget invocation (a unique input, one invocation id)
    trigger_id = "idn:identity-created"
    invocation_id = str(uuid.uuid4())
    payload = dict(trigger_document(trigger_id)["exampleInput"])
    payload["identity"] = {**payload["identity"], "name": f"once-{invocation_id[:8]}"}
    source = partner_source_name(str(uuid.uuid4()), trigger_id)
    target = local.event_bridge_target()
    events = boto3.client("events", endpoint_url=local.aws_endpoint, region_name="us-east-1")
    events.create_partner_event_source(Name=source, Account="123456789012")
    target.buses.associate(source, target.route)
    metadata = {"triggerType": "fireAndForget", "invocationId": invocation_id, "triggerId": trigger_id}
    # When it arrives over HTTP and over EventBridge
    answer = requests.post(
        local.webhook_url(trigger_id),
        json={**payload, "_metadata": metadata},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 200
    events.put_events(
        Entries=[
            {
                "Source": source,
                "DetailType": trigger_id,
                "Detail": json.dumps({**payload, "_metadata": metadata}),
                "EventBusName": source,
            }
        ]
    )
    # Then, once both were taken off the queue, the handler ran once
    queue = local.stack.physical_ids["WorkQueue"] if local.stack else ""
    sqs = boto3.client("sqs", endpoint_url=local.aws_endpoint, region_name="us-east-1")
    _wait_until_drained(sqs, queue)
    handled = [e for e in calls.of(trigger_id) if e["identity"]["name"] == payload["identity"]["name"]]
    assert len(handled) == 1
    target.buses.dissociate(source, target.route.rule_name)


def _wait_until_drained(sqs: Any, queue_url: str, timeout: float = 15) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if (
            attributes["ApproximateNumberOfMessages"]
            == attributes["ApproximateNumberOfMessagesNotVisible"]
            == "0"
        ):
            time.sleep(0.3)  # the last record's handler has returned once the message is deleted
            return
        time.sleep(0.1)
    raise TimeoutError("the work queue did not drain")
