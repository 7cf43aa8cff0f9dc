"""The EventBridge adapter: SailPoint's event envelope becomes the worker's queued message, or a reason.

The envelope is the documented one (../shared/sailpoint/EVENTBRIDGE.md); the worker is the real one
with fakes at its ports (from test_worker), fed SQS records whose body is an event as a rule
delivers it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from idn_triggers.catalogue import TriggerInfo, known_triggers
from idn_triggers.envelope import ResponseMode
from idn_triggers.eventbridge import (
    MalformedEvent,
    is_eventbridge_event,
    partner_source_name,
    queued_from_event,
)
from idn_triggers.worker import Worker, WorkerOutcome
from tests.unit.test_worker import (
    CALLBACK,
    CALLS,
    DECIDE,
    DLQ,
    NOTIFY,
    REGISTRY,
    SECRET,
    TENANT,
    FakeCallbacks,
    FakeSqs,
    reason_of,
    settings,
)

SUBSCRIPTION = "54d68478-7e9b-46f5-ae82-89a5055df5f2"
INVOCATION = "08f74ca8-f7b3-4115-8d59-1ff340a8e4b7"
ATTRIBUTES_CHANGED = "idn:identity-attributes-changed"
PRE_APPROVAL = "idn:access-request-pre-approval"
DOCUMENTED_DETAIL = {
    "identity": {"id": "2c91808473bafd7e0173be54efcf2fab", "name": "rufus", "type": "IDENTITY"},
    "changes": [{"attribute": "department", "oldValue": "History", "newValue": "Music"}],
}


def event(trigger_id: str, detail: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    """An event as EventBridge hands it to an SQS target."""
    return {
        "version": "0",
        "id": "41805c90-9744-b393-f101-02a257511062",
        "detail-type": trigger_id,
        "source": partner_source_name(SUBSCRIPTION, trigger_id),
        "account": "123456789012",
        "time": "2021-03-01T14:47:25Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {**copy.deepcopy(detail), "_metadata": {"triggerId": trigger_id, **metadata}},
    }


@pytest.fixture(autouse=True)
def _forget_calls() -> Iterator[None]:
    CALLS.clear()
    yield
    CALLS.clear()


def catalogue(trigger_id: str) -> TriggerInfo | None:
    return known_triggers().get(trigger_id)


def documented() -> dict[str, Any]:
    return event(ATTRIBUTES_CHANGED, DOCUMENTED_DETAIL, triggerType="fireAndForget", invocationId=INVOCATION)


# -- the adapter --------------------------------------------------------------------------------
def test_the_partner_source_is_named_after_the_subscription_and_the_trigger_name() -> None:
    assert partner_source_name(SUBSCRIPTION, ATTRIBUTES_CHANGED) == (
        f"aws.partner/sailpoint.com/{SUBSCRIPTION}/idn/identity-attributes-changed"
    )


def test_the_documented_event_becomes_a_fire_and_forget_invocation_without_metadata() -> None:
    # Given the envelope SailPoint documents
    # When the adapter reads it
    queued = queued_from_event(documented(), catalogue, timedelta(hours=1))
    # Then the payload is the detail without _metadata, keyed on SailPoint's invocation id
    assert queued.payload == DOCUMENTED_DETAIL
    assert queued.invocation_id == INVOCATION
    assert queued.idempotency_key == f"{ATTRIBUTES_CHANGED}#{INVOCATION}"
    assert queued.mode is None and queued.callback_url is None and not queued.expects_answer


def test_a_request_response_event_is_answered_through_its_callback_like_async() -> None:
    # Given a pre-approval event with callbackURL and secret
    example = _example_input(PRE_APPROVAL)
    raw = event(
        PRE_APPROVAL,
        example,
        triggerType="requestResponse",
        invocationId=INVOCATION,
        callbackURL=CALLBACK,
        secret=SECRET,
    )
    now = datetime(2021, 3, 1, 15, 0, tzinfo=UTC)
    # When the adapter reads it
    queued = queued_from_event(raw, catalogue, timedelta(minutes=30), now=now)
    # Then it is an ASYNC invocation with the callback, its deadline counted from the event's time
    assert queued.mode is ResponseMode.ASYNC and queued.expects_answer
    assert queued.callback_url == CALLBACK and queued.secret is not None
    assert queued.secret.get_secret_value() == SECRET
    assert queued.deadline == datetime(2021, 3, 1, 15, 17, 25, tzinfo=UTC)


def test_an_events_arrival_time_has_the_precision_to_order_records() -> None:
    # Given two events put in the same second (an event's `time` has whole seconds)
    first = datetime(2021, 3, 1, 15, 0, 0, 100_000, tzinfo=UTC)
    second = first.replace(microsecond=900_000)
    # When the worker receives them a few hundred milliseconds apart
    queued = [
        queued_from_event(documented(), catalogue, timedelta(hours=1), now=at) for at in (first, second)
    ]
    # Then each is received when the worker got it, to the microsecond, in order
    assert [q.received_at for q in queued] == [first, second]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e.pop("detail-type"), "detail-type"),
        (lambda e: e.update(detail="text"), "detail is not a JSON object"),
        (lambda e: e["detail"].pop("_metadata"), "without detail._metadata"),
        (lambda e: e["detail"]["_metadata"].pop("invocationId"), "invocationId is missing"),
        (lambda e: e["detail"]["_metadata"].update(invocationId="a b"), "_metadata is invalid"),
        (lambda e: e["detail"]["_metadata"].update(triggerId="idn:other"), "does not match detail-type"),
        (
            lambda e: (e.update({"detail-type": "idn:nope"}), e["detail"]["_metadata"].pop("triggerId")),
            "not a trigger this deployment serves",
        ),
        (lambda e: e["detail"].pop("identity"), "does not match the idn:identity-attributes-changed"),
    ],
)
def test_a_malformed_event_is_refused_with_a_reason(mutate: Any, reason: str) -> None:
    # Given a documented event with one thing wrong
    raw = documented()
    mutate(raw)
    # When the adapter reads it, Then it says why, without echoing values
    with pytest.raises(MalformedEvent, match=reason):
        queued_from_event(raw, catalogue, timedelta(hours=1))


def test_a_request_response_event_without_callback_cannot_be_answered() -> None:
    raw = event(PRE_APPROVAL, _example_input(PRE_APPROVAL), invocationId=INVOCATION)
    with pytest.raises(MalformedEvent, match="cannot be answered"):
        queued_from_event(raw, catalogue, timedelta(hours=1))


def test_a_queued_invocation_is_not_mistaken_for_an_event() -> None:
    assert is_eventbridge_event(documented())
    assert not is_eventbridge_event({"trigger_id": NOTIFY, "payload": {}})
    assert not is_eventbridge_event(["detail-type", "detail", "source"])


# -- the worker, fed events -----------------------------------------------------------------------
def eb_worker(callbacks: FakeCallbacks, sqs: FakeSqs) -> Worker:
    extra = f"{DECIDE}=REQUEST_RESPONSE,{NOTIFY}=FIRE_AND_FORGET"
    return Worker(settings(EXTRA_TRIGGERS=extra), REGISTRY, callbacks, sqs)


def record(body: Any) -> dict[str, Any]:
    """An SQS record as the worker's event source hands it over (a rule's target: no attributes)."""
    text = body if isinstance(body, str) else json.dumps(body)
    return {"messageId": "m-1", "receiptHandle": "r-1", "body": text, "attributes": {}}


def test_the_worker_runs_the_handler_of_a_fire_and_forget_event() -> None:
    # Given an event of a served fire-and-forget trigger
    raw = event(NOTIFY, {"item": "laptop"}, invocationId=INVOCATION)
    worker = eb_worker(FakeCallbacks(), FakeSqs())
    # When the worker processes it
    outcome = worker.process_record(record(raw))
    # Then the handler ran once with the detail minus _metadata
    assert outcome is WorkerOutcome.PROCESSED
    assert [(t, e.model_dump()) for t, e, _ in CALLS] == [(NOTIFY, {"item": "laptop"})]


def test_the_worker_completes_a_request_response_event_through_the_callback() -> None:
    callbacks = FakeCallbacks()
    raw = event(DECIDE, {"item": "laptop"}, invocationId=INVOCATION, callbackURL=CALLBACK, secret=SECRET)
    raw["time"] = datetime.now(UTC).isoformat()
    outcome = eb_worker(callbacks, FakeSqs()).process_record(record(raw))
    assert outcome is WorkerOutcome.COMPLETED
    assert [(c.url, c.secret, c.output) for c in callbacks.calls] == [
        (CALLBACK, SECRET, {"approved": True, "approverName": "worker-test"})
    ]


def test_the_callback_url_rules_apply_to_events_too() -> None:
    # Given an event whose callback URL is not the tenant's
    sqs, callbacks = FakeSqs(), FakeCallbacks()
    elsewhere = CALLBACK.replace(TENANT, "https://evil.example")
    raw = event(DECIDE, {"item": "x"}, invocationId=INVOCATION, callbackURL=elsewhere, secret=SECRET)
    raw["time"] = datetime.now(UTC).isoformat()
    # When the worker processes it, Then nothing is called and it is dead-lettered as refused
    assert eb_worker(callbacks, sqs).process_record(record(raw)) is WorkerOutcome.REFUSED
    assert callbacks.calls == [] and "callback refused" in reason_of(sqs.dead_letters()[0])


def test_a_malformed_event_is_dead_lettered_with_its_reason_and_its_body() -> None:
    # Given an event without _metadata.invocationId
    sqs = FakeSqs()
    raw = event(NOTIFY, {"item": "laptop"})
    # When the worker processes it
    outcome = eb_worker(FakeCallbacks(), sqs).process_record(record(raw))
    # Then it is dead-lettered (nothing raised: the batch goes on), reason and original body kept
    assert outcome is WorkerOutcome.POISON
    (dead,) = sqs.dead_letters()
    assert dead["QueueUrl"] == DLQ and json.loads(dead["MessageBody"]) == raw
    assert reason_of(dead) == "malformed EventBridge event: detail._metadata.invocationId is missing"
    assert CALLS == []


def test_a_body_that_is_neither_is_still_poison() -> None:
    sqs = FakeSqs()
    assert eb_worker(FakeCallbacks(), sqs).process_record(record("not json")) is WorkerOutcome.POISON
    assert reason_of(sqs.dead_letters()[0]) == "malformed queue message: not a QueuedInvocation v1"


def test_a_disabled_trigger_is_not_served_over_eventbridge() -> None:
    sqs = FakeSqs()
    worker = Worker(
        settings(ENABLED_TRIGGERS=DECIDE, EXTRA_TRIGGERS=f"{NOTIFY}=FIRE_AND_FORGET"),
        REGISTRY,
        FakeCallbacks(),
        sqs,
    )
    raw = event(NOTIFY, {"item": "laptop"}, invocationId=INVOCATION)
    assert worker.process_record(record(raw)) is WorkerOutcome.POISON
    assert "not a trigger this deployment serves" in reason_of(sqs.dead_letters()[0])


def _example_input(trigger_id: str) -> dict[str, Any]:
    from idn_triggers.catalogue import trigger_document

    example = trigger_document(trigger_id)["exampleInput"]
    assert isinstance(example, dict)
    return example
