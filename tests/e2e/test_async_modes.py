"""ASYNC, DYNAMIC and fire-and-forget end to end in local mode: SailPoint (the simulator) invokes the
receiver over HTTP, the worker completes through the callback, and nothing is lost or doubled."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import boto3
import jsonschema
import pytest
import requests

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from idn_simulator import InvocationRecord, InvocationState
from tests.product_handlers.shared import APPROVED, reviewed_comment
from tests.support import trigger_document

PRE = "idn:access-request-pre-approval"
DYN = "idn:access-request-dynamic-approver"
TOKEN = "e2e-async-token"
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def reviewed_items() -> Iterator[None]:
    """The product's handlers (tests/product_handlers) review "Engineering Access": deferred when
    the delivery can be, else approved as reviewed; other items are approved at once."""
    os.environ["PRODUCT_TEST_REVIEW_ITEMS"] = "Engineering Access"
    yield
    os.environ.pop("PRODUCT_TEST_REVIEW_ITEMS", None)


def start(**overrides: str) -> LocalRunner:
    options = LocalOptions(port=0, auth=InboundAuth.parse(f"bearer:{TOKEN}"), parameter_overrides=overrides)
    return LocalRunner(options).start()


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRunner]:
    runner = start()
    yield runner
    runner.stop()


@pytest.fixture(autouse=True)
def no_faults(local: LocalRunner) -> None:
    local.simulator.faults.clear()


def subscribe(local: LocalRunner, trigger_id: str, mode: str, deadline: str = "PT1H") -> None:
    assert local.tenant is not None
    for existing in local.tenant.list_subscriptions():
        if existing["triggerId"] == trigger_id:
            local.tenant.delete_subscription(existing["id"])
    local.tenant.create_subscription(
        {
            "name": f"e2e {trigger_id} {mode}",
            "triggerId": trigger_id,
            "type": "HTTP",
            "enabled": True,
            "responseDeadline": deadline,
            "httpConfig": {
                "url": local.webhook_url(trigger_id),
                "httpDispatchMode": mode,
                "httpAuthenticationType": "BEARER_TOKEN",
                "bearerTokenAuthConfig": {"bearerToken": TOKEN},
            },
        }
    )


def fire(local: LocalRunner, trigger_id: str, payload: dict[str, Any] | None = None) -> InvocationRecord:
    [record] = local.simulator.fire_event(trigger_id, payload)
    return record


def settled(local: LocalRunner, record: InvocationRecord, timeout: float = 20) -> InvocationRecord:
    # settled, and the delivery's HTTP answer recorded: a fast worker can complete an ASYNC invocation
    # before the receiver's 200/202 reaches the simulator
    return local.simulator.wait_for_invocation(
        lambda r: r.id == record.id and r.settled and r.delivery is not None, timeout=timeout
    )


def dead_letters(local: LocalRunner) -> list[dict[str, Any]]:
    assert local.stack is not None
    url = local.stack.physical_ids["DeadLetterQueue"]
    sqs = boto3.client("sqs", endpoint_url=local.aws_endpoint)
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
    ).get("Messages", [])
    return [{k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()} for m in messages]


def assert_completed_once_by_callback(record: InvocationRecord, trigger_id: str) -> None:
    assert record.state is InvocationState.COMPLETED, (record.failure, record.attempts)
    assert record.completed_via == "callback"
    accepted = [a for a in record.attempts if a.accepted]
    assert len(accepted) == 1  # the simulator checked the secret, the bearer token and the output schema
    if record.output != NOBODY:  # the documented "no extra approver", outside the v1 schema's enum
        jsonschema.validate(record.output, trigger_document(trigger_id)["outputSchema"])


def test_async_pre_approval_is_acknowledged_then_completed_by_the_worker(local: LocalRunner) -> None:
    subscribe(local, PRE, "ASYNC")
    record = fire(local, PRE)
    record = settled(local, record)
    assert record.delivery is not None and (record.delivery.status, record.delivery.body) == (200, {})
    assert_completed_once_by_callback(record, PRE)
    assert record.output["comment"] == reviewed_comment("Engineering Access")


NOBODY = {"id": "", "name": "", "type": ""}


def test_async_dynamic_approver_completes_with_the_documented_no_approver_object(local: LocalRunner) -> None:
    subscribe(local, DYN, "ASYNC")
    record = settled(local, fire(local, DYN))
    assert_completed_once_by_callback(record, DYN)
    assert record.output == NOBODY


def test_dynamic_answered_now_completes_in_the_response(local: LocalRunner) -> None:
    subscribe(local, PRE, "DYNAMIC")
    payload = json.loads(json.dumps(trigger_document(PRE)["exampleInput"]))
    payload["requestedItems"][0]["name"] = "Read-only Access"
    record = settled(local, fire(local, PRE, payload))
    assert record.state is InvocationState.COMPLETED and record.completed_via == "dynamic-response"
    assert record.delivery is not None and record.delivery.status == 200
    assert record.output["comment"] == APPROVED


def test_dynamic_deferred_is_202_then_completed_by_the_worker(local: LocalRunner) -> None:
    subscribe(local, PRE, "DYNAMIC")
    record = settled(local, fire(local, PRE))
    assert record.delivery is not None and (record.delivery.status, record.delivery.body) == (202, {})
    assert_completed_once_by_callback(record, PRE)


def test_fire_and_forget_is_acknowledged_and_processed_by_the_worker(local: LocalRunner) -> None:
    subscribe(local, "idn:identity-created", "SYNC")
    poller = next(p for p in local.pollers if p.function.name == "WorkerFunction")
    batches_before = poller.batches
    record = settled(local, fire(local, "idn:identity-created"))
    assert record.state is InvocationState.COMPLETED
    assert record.delivery is not None and (record.delivery.status, record.delivery.body) == (200, {})
    deadline = time.monotonic() + 10
    while poller.batches == batches_before:
        assert time.monotonic() < deadline, "the worker never received the event"
        time.sleep(0.05)


@pytest.mark.parametrize(("status", "retry_after"), [(500, None), (429, 1), (503, None)])
def test_transient_completion_failures_are_retried_and_complete_once(
    local: LocalRunner, status: int, retry_after: int | None
) -> None:
    subscribe(local, PRE, "ASYNC")
    local.simulator.faults.fail_next_completions(1, status=status, retry_after=retry_after)
    requests_before = local.simulator.stats.completions
    record = settled(local, fire(local, PRE), timeout=30)
    assert_completed_once_by_callback(record, PRE)
    assert local.simulator.stats.completions - requests_before == 2  # the injected failure, then success


def test_a_permanently_refused_completion_lands_in_the_dlq_with_its_reason(local: LocalRunner) -> None:
    subscribe(local, PRE, "ASYNC")
    before = len(dead_letters(local))
    local.simulator.faults.fail_next_completions(1, status=400)
    record = fire(local, PRE)
    deadline = time.monotonic() + 20
    while len(letters := dead_letters(local)) == before:
        assert time.monotonic() < deadline, "nothing reached the DLQ"
        time.sleep(0.1)
    [letter] = [m for m in letters if m.get("invocationId") == record.id]
    assert letter["reason"].startswith("completion refused: HTTP 400")
    assert letter["triggerId"] == PRE
    assert local.simulator.invocation(record.id).state is InvocationState.AWAITING_CALLBACK


def test_a_duplicate_delivery_completes_once(local: LocalRunner) -> None:
    subscribe(local, PRE, "ASYNC")
    local.simulator.faults.delay_next_completions(1, seconds=1.0)  # keep the first one in flight
    record = fire(local, PRE)
    record = local.simulator.wait_for_invocation(record.id, timeout=10)
    duplicate = {
        **record.input,
        "_metadata": {
            "callbackURL": record.callback_url,
            "secret": record.secret,
            "responseMode": "async",
            "triggerId": PRE,
            "triggerType": "requestResponse",
        },
    }
    response = requests.post(
        local.webhook_url(PRE), json=duplicate, timeout=5, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200
    record = settled(local, record)
    assert_completed_once_by_callback(record, PRE)
    time.sleep(3)  # give a wrongly-processed duplicate the time to complete a second time
    assert len(local.simulator.invocation(record.id).attempts) == 1


def test_deadline_expiry_stops_retries() -> None:
    runner = start(ResponseDeadline="PT3S")
    try:
        subscribe(runner, PRE, "ASYNC", deadline="PT3S")
        runner.simulator.faults.fail_next_completions(100, status=503)
        record = fire(runner, PRE)
        deadline = time.monotonic() + 30
        while not any(m.get("invocationId") == record.id for m in dead_letters(runner)):
            assert time.monotonic() < deadline, "the expired invocation never reached the DLQ"
            time.sleep(0.2)
        [letter] = [m for m in dead_letters(runner) if m.get("invocationId") == record.id]
        assert "deadline passed" in letter["reason"]
        attempts = len(runner.simulator.invocation(record.id).attempts)
        time.sleep(2)
        assert len(runner.simulator.invocation(record.id).attempts) == attempts  # no retries after the DLQ
    finally:
        runner.stop()
