"""The worker's decisions for every kind of queued record, with fakes at its ports.

The callback client and SQS are fakes that record what the worker asked of them; the handlers are
small ones registered here. Every record must end done, retried (RetryLater, after a visibility
change) or dead-lettered with a reason, and the invocation secret must never reach a log.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from idn_triggers.callback import CallbackOutcome, CallbackResult
from idn_triggers.catalogue import TriggerType
from idn_triggers.envelope import DeliveryKind, ResponseMode, split_envelope
from idn_triggers.handlers import DEFER, Deferred, HandlerContext, HandlerRegistry, trigger_handler
from idn_triggers.queue import QueuedInvocation, payload_fingerprint, queued_invocation, redriven_attributes
from idn_triggers.settings import WorkerSettings
from idn_triggers.worker import (
    MAX_DELAY_SECONDS,
    MAX_VISIBILITY_SECONDS,
    RetryLater,
    Worker,
    WorkerOutcome,
    backoff_seconds,
)
from tests.unit.conftest import HandlerPackage

TENANT = "https://acme.api.identitynow.com"
INVOCATION_ID = "2c2b0a7e-5f04-4a0e-9a9e-0c7a1b6b3f11"
CALLBACK = f"{TENANT}/trigger-invocations/v1/{INVOCATION_ID}/complete"
SECRET = "callback-secret-7f3a9c"
WORK_QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/work"
DLQ = "https://sqs.us-east-1.amazonaws.com/123456789012/work-dlq"
RECEIPT = "receipt-handle-1"
MAX_RECEIVES = 3
COMPLETED_204 = CallbackResult(CallbackOutcome.COMPLETED, "HTTP 204", status=204)

# Trigger ids of the handlers below (unique in the test session: registrations are global).
DECIDE = "test:worker-decide"
NOTIFY = "test:worker-notify"
BROKEN = "test:worker-broken"
BROKEN_NOTIFY = "test:worker-broken-notify"
INVALID = "test:worker-invalid-output"
DEFERS = "test:worker-defers"
DISABLED = "test:worker-disabled"
UNREGISTERED = "test:worker-unregistered"
CALLS: list[tuple[str, Any, HandlerContext | None]] = []


class Ask(BaseModel):
    model_config = ConfigDict(extra="allow")

    item: str


class Answer(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    approved: bool
    approver_name: str = Field(alias="approverName")


@trigger_handler(DECIDE)
def decide(event: Ask, context: HandlerContext) -> Answer:
    CALLS.append((DECIDE, event, context))
    return Answer(approved=event.item != "forbidden", approver_name="worker-test")


@trigger_handler(NOTIFY)
def notify(event: Ask) -> None:
    CALLS.append((NOTIFY, event, None))


@trigger_handler(BROKEN)
def broken(event: Ask) -> Answer:
    raise RuntimeError("handler broke")


@trigger_handler(BROKEN_NOTIFY)
def broken_notify(event: Ask) -> None:
    raise RuntimeError("handler broke")


@trigger_handler(INVALID)
def invalid_output(event: Ask) -> Answer:
    return Answer.model_construct(approved="perhaps", approver_name=None)


@trigger_handler(DEFERS)
def defers(event: Ask) -> Answer | Deferred:
    return DEFER


@trigger_handler(DISABLED)
def disabled(event: Ask) -> Answer:
    CALLS.append((DISABLED, event, None))
    return Answer(approved=True, approver_name="x")


REGISTRY = HandlerRegistry(
    "trigger_handlers",
    {t: __name__ for t in (DECIDE, NOTIFY, BROKEN, BROKEN_NOTIFY, INVALID, DEFERS, DISABLED)},
)


# -- fakes at the ports -------------------------------------------------------------------------
@dataclass(frozen=True)
class Completion:
    url: str
    secret: str
    output: Any
    error: str | None


@dataclass
class FakeCallbacks:
    """A CallbackClient: answers each completion with the next scripted result (default 204)."""

    results: list[CallbackResult] = field(default_factory=list)
    calls: list[Completion] = field(default_factory=list)
    on_call: Callable[[], None] | None = None

    def complete(
        self, callback_url: str, secret: str, *, output: Any = None, error: str | None = None
    ) -> CallbackResult:
        self.calls.append(Completion(callback_url, secret, output, error))
        if self.on_call:
            self.on_call()
        return self.results.pop(0) if self.results else COMPLETED_204


@dataclass
class FakeSqs:
    """The two SQS calls the worker makes, recorded; either can be made to fail."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    visibility: list[dict[str, Any]] = field(default_factory=list)
    fail_send: bool = False
    fail_visibility: bool = False

    def send_message(self, **kwargs: Any) -> dict[str, str]:
        if self.fail_send:
            raise ConnectionError("sqs down")
        self.sent.append(kwargs)
        return {"MessageId": f"m-{len(self.sent)}"}

    def change_message_visibility(self, **kwargs: Any) -> None:
        if self.fail_visibility:
            raise ConnectionError("sqs down")
        self.visibility.append(kwargs)

    def dead_letters(self) -> list[dict[str, Any]]:
        return [sent for sent in self.sent if sent["QueueUrl"] == DLQ]

    def requeued(self) -> list[dict[str, Any]]:
        return [sent for sent in self.sent if sent["QueueUrl"] == WORK_QUEUE]


def reason_of(sent: dict[str, Any]) -> str:
    return str(sent["MessageAttributes"]["reason"]["StringValue"])


@pytest.fixture(autouse=True)
def _forget_calls() -> Iterator[None]:
    CALLS.clear()
    yield
    CALLS.clear()


@pytest.fixture
def callbacks() -> FakeCallbacks:
    return FakeCallbacks()


@pytest.fixture
def sqs() -> FakeSqs:
    return FakeSqs()


def settings(**overrides: str) -> WorkerSettings:
    env = {
        "TENANT_API_URL": TENANT,
        "SAILPOINT_CLIENT_SECRET_ID": "sailpoint-client",
        "TOKEN_SECRET_ID": "sailpoint-token",
        "IDEMPOTENCY_TABLE": "idempotency",
        "WORK_QUEUE_URL": WORK_QUEUE,
        "DEAD_LETTER_QUEUE_URL": DLQ,
        "MAX_RECEIVE_COUNT": str(MAX_RECEIVES),
        "ENABLED_TRIGGERS": ",".join(t for t in (DECIDE, NOTIFY, BROKEN, BROKEN_NOTIFY, INVALID, DEFERS)),
    }
    return WorkerSettings.from_env({**env, **overrides})


@pytest.fixture
def worker(callbacks: FakeCallbacks, sqs: FakeSqs) -> Worker:
    return Worker(settings(), REGISTRY, callbacks, sqs)


def message(
    trigger_id: str = DECIDE,
    *,
    request_response: bool = True,
    callback_url: str = CALLBACK,
    deadline: timedelta = timedelta(hours=1),
    payload: dict[str, Any] | None = None,
) -> QueuedInvocation:
    now = datetime.now(UTC)
    body = payload if payload is not None else {"item": "laptop", "requester": "Jane Doe"}
    if not request_response:
        key = payload_fingerprint(trigger_id, body)
        return QueuedInvocation(
            trigger_id=trigger_id,
            trigger_type=TriggerType.FIRE_AND_FORGET,
            mode=None,
            invocation_id=key,
            idempotency_key=f"{trigger_id}#{key}",
            received_at=now,
            payload=body,
        )
    return QueuedInvocation(
        trigger_id=trigger_id,
        trigger_type=TriggerType.REQUEST_RESPONSE,
        mode=ResponseMode.ASYNC,
        invocation_id=INVOCATION_ID,
        idempotency_key=f"{trigger_id}#{INVOCATION_ID}",
        callback_url=callback_url,
        secret=SecretStr(SECRET),
        deadline=now + deadline,
        received_at=now,
        payload=body,
    )


def record(body: QueuedInvocation | str, receive_count: int = 1) -> dict[str, Any]:
    """An SQS record as Lambda's event source mapping delivers it."""
    text = body.model_dump_json() if isinstance(body, QueuedInvocation) else body
    return {
        "messageId": "11111111-2222-3333-4444-555555555555",
        "receiptHandle": RECEIPT,
        "body": text,
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1795780800000"},
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work",
        "awsRegion": "us-east-1",
    }


# -- poison -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        "this is not JSON",
        '{"hello": "world"}',
        message().model_dump_json().replace('"version":1', '"version":2'),
        json.dumps({**json.loads(message().model_dump_json()), "payload": "not an object"}),
    ],
    ids=["not-json", "other-json", "future-version", "bad-field"],
)
def test_a_poison_message_is_dead_lettered_with_the_reason_and_nothing_else_happens(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs, body: str
) -> None:
    outcome = worker.process_record(record(body))

    assert outcome == "poison"
    [dead] = sqs.sent
    assert dead["QueueUrl"] == DLQ and dead["MessageBody"] == body
    assert reason_of(dead) == "malformed queue message: not a QueuedInvocation v1"
    assert "triggerId" not in dead["MessageAttributes"]
    assert callbacks.calls == [] and CALLS == [] and sqs.visibility == []


# -- the happy paths ----------------------------------------------------------------------------
def test_fire_and_forget_is_handled_and_nothing_is_completed(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    outcome = worker.process_record(record(message(NOTIFY, request_response=False)))

    assert outcome == "processed"
    [(trigger_id, event, _)] = CALLS
    assert trigger_id == NOTIFY and event == Ask(item="laptop", requester="Jane Doe")
    assert callbacks.calls == [] and sqs.sent == [] and sqs.visibility == []


def test_request_response_is_completed_with_the_validated_output_and_the_secret(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    outcome = worker.process_record(record(message()))

    assert outcome == "completed"
    assert callbacks.calls == [
        Completion(CALLBACK, SECRET, {"approved": True, "approverName": "worker-test"}, None)
    ]
    assert sqs.sent == [] and sqs.visibility == []


def test_the_handler_sees_the_mode_and_invocation_and_cannot_defer(worker: Worker) -> None:
    worker.process_record(record(message()))

    [(_, _, context)] = CALLS
    assert context == HandlerContext(DECIDE, ResponseMode.ASYNC, INVOCATION_ID, can_defer=False)


@pytest.mark.parametrize("kind", list(DeliveryKind))
def test_the_handler_is_told_how_the_event_was_delivered(worker: Worker, kind: DeliveryKind) -> None:
    worker.process_record(record(message().model_copy(update={"delivery": kind})))

    [(_, _, context)] = CALLS
    assert context is not None and context.delivery is kind
    assert (context.recovered, context.replay) == (
        kind is DeliveryKind.RECOVERED,
        kind is DeliveryKind.REPLAY,
    )


def test_a_message_queued_before_delivery_kinds_existed_is_a_live_delivery(worker: Worker) -> None:
    body = json.loads(message().model_dump_json())
    del body["delivery"]

    worker.process_record(record(json.dumps(body)))

    [(_, _, context)] = CALLS
    assert context is not None and context.delivery is DeliveryKind.LIVE


def test_http_callbacks_are_accepted_when_allowed(callbacks: FakeCallbacks, sqs: FakeSqs) -> None:
    local = "http://127.0.0.1:8400"
    worker = Worker(settings(TENANT_API_URL=local, ALLOW_HTTP_CALLBACKS="true"), REGISTRY, callbacks, sqs)
    url = f"{local}/trigger-invocations/v1/{INVOCATION_ID}/complete"

    assert worker.process_record(record(message(callback_url=url))) == "completed"
    assert [call.url for call in callbacks.calls] == [url]


# -- refused before anything runs ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (CALLBACK.replace("https://", "http://"), "callbackURL must use https"),
        (CALLBACK.replace("acme.api", "evil.api"), "not on the configured tenant's API host"),
        (f"{TENANT}:8443/trigger-invocations/v1/{INVOCATION_ID}/complete", "not on the configured tenant"),
        (f"{TENANT}/v3/search", "not a SailPoint trigger-invocation completion URL"),
    ],
    ids=["http", "other-host", "other-port", "not-a-completion"],
)
def test_a_callback_url_that_must_not_be_called_is_dead_lettered_uncalled(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs, url: str, problem: str
) -> None:
    outcome = worker.process_record(record(message(callback_url=url)))

    assert outcome == "refused"
    [dead] = sqs.dead_letters()
    assert reason_of(dead).startswith("callback refused: ") and problem in reason_of(dead)
    assert callbacks.calls == [] and CALLS == []


def test_a_passed_deadline_is_dead_lettered_uncalled(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    outcome = worker.process_record(record(message(deadline=timedelta(seconds=-1))))

    assert outcome == "expired"
    [dead] = sqs.dead_letters()
    assert reason_of(dead) == "response deadline passed before completion"
    assert callbacks.calls == [] and CALLS == []


# -- handler failures ---------------------------------------------------------------------------
@pytest.mark.parametrize("trigger_id", [BROKEN, INVALID, DEFERS], ids=["raises", "invalid-output", "defers"])
@pytest.mark.parametrize("receive_count", [1, MAX_RECEIVES - 1])
def test_a_failing_handler_is_retried_with_backoff_before_the_last_attempt(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs, trigger_id: str, receive_count: int
) -> None:
    with pytest.raises(RetryLater) as retry:
        worker.process_record(record(message(trigger_id), receive_count))

    assert retry.value.delay == backoff_seconds(receive_count)
    assert sqs.visibility == [
        {
            "QueueUrl": WORK_QUEUE,
            "ReceiptHandle": RECEIPT,
            "VisibilityTimeout": backoff_seconds(receive_count),
        }
    ]
    assert callbacks.calls == [] and sqs.sent == []


@pytest.mark.parametrize("trigger_id", [BROKEN, INVALID, DEFERS], ids=["raises", "invalid-output", "defers"])
def test_a_handler_failing_on_the_last_attempt_fails_the_invocation_then_dead_letters(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs, trigger_id: str
) -> None:
    outcome = worker.process_record(record(message(trigger_id), MAX_RECEIVES))

    assert outcome == "handler_failed"
    assert callbacks.calls == [
        Completion(CALLBACK, SECRET, None, "the receiver could not process this invocation")
    ]
    [dead] = sqs.dead_letters()
    assert reason_of(dead) == f"handler failed on all {MAX_RECEIVES} attempts"
    assert sqs.visibility == [] and sqs.requeued() == []


FALLBACK_ANSWER = {"approved": False, "approverName": "fallback"}


def test_with_a_fallback_policy_the_last_failure_completes_with_the_fallback_and_keeps_the_event(
    callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    policy = json.dumps({BROKEN: FALLBACK_ANSWER})
    worker = Worker(settings(FAILURE_POLICIES=policy), REGISTRY, callbacks, sqs)

    outcome = worker.process_record(record(message(BROKEN), MAX_RECEIVES))

    assert outcome == "completed_with_fallback"
    assert callbacks.calls == [Completion(CALLBACK, SECRET, FALLBACK_ANSWER, None)]
    [dead] = sqs.dead_letters()
    assert (
        reason_of(dead)
        == f"handler failed on all {MAX_RECEIVES} attempts; completed with the fallback answer"
    )


def test_a_retry_that_would_miss_the_deadline_gives_up_now_with_the_policy(
    callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    policy = json.dumps({BROKEN: FALLBACK_ANSWER})
    worker = Worker(settings(FAILURE_POLICIES=policy), REGISTRY, callbacks, sqs)

    outcome = worker.process_record(record(message(BROKEN, deadline=timedelta(seconds=20)), 1))

    assert outcome == "completed_with_fallback"
    assert callbacks.calls == [Completion(CALLBACK, SECRET, FALLBACK_ANSWER, None)]
    [dead] = sqs.dead_letters()
    assert "a retry would miss responseDeadline" in reason_of(dead)


def test_a_fire_and_forget_handler_failing_on_the_last_attempt_is_dead_lettered(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    outcome = worker.process_record(record(message(BROKEN_NOTIFY, request_response=False), MAX_RECEIVES))

    assert outcome == "handler_failed"
    assert callbacks.calls == []
    [dead] = sqs.dead_letters()
    assert reason_of(dead) == f"handler failed on all {MAX_RECEIVES} attempts"


def test_when_failing_the_invocation_also_fails_transiently_it_is_dead_lettered_once(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    callbacks.results.append(CallbackResult(CallbackOutcome.RETRY, "HTTP 503", status=503))

    outcome = worker.process_record(record(message(BROKEN), MAX_RECEIVES))

    assert outcome == "dead_lettered"
    [dead] = sqs.sent
    assert reason_of(dead) == (
        f"handler failed on all {MAX_RECEIVES} attempts; completing with error also failed"
    )


def test_when_failing_the_invocation_is_refused_it_is_dead_lettered_once(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    callbacks.results.append(
        CallbackResult(CallbackOutcome.PERMANENT, "HTTP 400: invocation already completed", status=400)
    )

    outcome = worker.process_record(record(message(BROKEN), MAX_RECEIVES))

    assert outcome == "callback_rejected"
    [dead] = sqs.sent
    assert reason_of(dead) == "completion refused: HTTP 400: invocation already completed"


def test_a_deadline_passing_while_the_handler_ran_skips_failing_the_invocation(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter([False])  # not past at the first check, past from then on
    monkeypatch.setattr(QueuedInvocation, "past_deadline", lambda self, now=None: next(answers, True))

    outcome = worker.process_record(record(message(BROKEN), MAX_RECEIVES))

    assert outcome == "handler_failed"
    assert callbacks.calls == []
    [dead] = sqs.dead_letters()
    assert reason_of(dead) == f"handler failed on all {MAX_RECEIVES} attempts"


@pytest.mark.parametrize("trigger_id", [UNREGISTERED, DISABLED], ids=["no-handler", "disabled"])
def test_a_trigger_without_an_enabled_handler_fails_the_invocation_then_dead_letters(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs, trigger_id: str
) -> None:
    outcome = worker.process_record(record(message(trigger_id)))

    assert outcome == "no_handler"
    assert [(call.output, call.error) for call in callbacks.calls] == [
        (None, "the receiver could not process this invocation")
    ]
    [dead] = sqs.dead_letters()
    assert reason_of(dead) == "no enabled handler for this trigger"
    assert CALLS == []


def test_every_trigger_is_enabled_by_default(callbacks: FakeCallbacks, sqs: FakeSqs) -> None:
    worker = Worker(settings(ENABLED_TRIGGERS="*"), REGISTRY, callbacks, sqs)

    assert worker.process_record(record(message(DISABLED))) == "completed"


def test_fire_and_forget_without_a_handler_is_dead_lettered_only(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    outcome = worker.process_record(record(message(UNREGISTERED, request_response=False)))

    assert outcome == "no_handler"
    assert callbacks.calls == []
    assert [reason_of(dead) for dead in sqs.dead_letters()] == ["no enabled handler for this trigger"]


def test_a_payload_failing_the_input_model_fails_the_invocation_then_dead_letters(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    outcome = worker.process_record(record(message(payload={"requester": "Jane Doe"})))

    assert outcome == "invalid_payload"
    assert [call.error for call in callbacks.calls] == ["the receiver could not process this invocation"]
    [dead] = sqs.dead_letters()
    assert reason_of(dead).startswith("invalid payload: ") and "'field': 'item'" in reason_of(dead)
    assert "Jane Doe" not in reason_of(dead)
    assert CALLS == []


# -- completion failures ------------------------------------------------------------------------
def test_a_throttled_completion_comes_back_after_retry_after(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    callbacks.results.append(CallbackResult(CallbackOutcome.RETRY, "HTTP 429", retry_after=37, status=429))

    with pytest.raises(RetryLater, match="completion failed: HTTP 429"):
        worker.process_record(record(message()))

    assert sqs.visibility == [{"QueueUrl": WORK_QUEUE, "ReceiptHandle": RECEIPT, "VisibilityTimeout": 37}]
    assert sqs.sent == []


@pytest.mark.parametrize("receive_count", [1, 2])
@pytest.mark.parametrize(
    "result",
    [
        CallbackResult(CallbackOutcome.RETRY, "HTTP 502", status=502),
        CallbackResult(CallbackOutcome.RETRY, "callback timed out"),
        CallbackResult(CallbackOutcome.RETRY, "tenant refused two fresh tokens (401)", status=401),
    ],
    ids=["5xx", "timeout", "401"],
)
def test_a_transient_completion_failure_is_retried_with_backoff(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs, result: CallbackResult, receive_count: int
) -> None:
    callbacks.results.append(result)

    with pytest.raises(RetryLater):
        worker.process_record(record(message(), receive_count))

    [change] = sqs.visibility
    assert change["VisibilityTimeout"] == backoff_seconds(receive_count)
    assert sqs.sent == []


def test_visibility_is_capped_at_the_sqs_maximum(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    callbacks.results.append(CallbackResult(CallbackOutcome.RETRY, "HTTP 429", retry_after=86400, status=429))

    with pytest.raises(RetryLater):
        worker.process_record(record(message()))

    assert sqs.visibility[0]["VisibilityTimeout"] == MAX_VISIBILITY_SECONDS


def test_a_visibility_change_that_fails_still_retries_the_record(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs, captured_logs: io.StringIO
) -> None:
    callbacks.results.append(CallbackResult(CallbackOutcome.RETRY, "HTTP 500", status=500))
    sqs.fail_visibility = True

    with pytest.raises(RetryLater):
        worker.process_record(record(message()))

    assert "could not change message visibility" in captured_logs.getvalue()


@pytest.mark.parametrize(
    ("result", "delay"),
    [
        (CallbackResult(CallbackOutcome.RETRY, "HTTP 429", retry_after=12, status=429), 12),
        (CallbackResult(CallbackOutcome.RETRY, "HTTP 500", status=500), backoff_seconds(MAX_RECEIVES)),
        (CallbackResult(CallbackOutcome.RETRY, "HTTP 429", retry_after=5000, status=429), MAX_DELAY_SECONDS),
    ],
    ids=["429", "5xx", "capped"],
)
def test_a_transient_failure_on_the_last_receive_requeues_a_fresh_copy(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs, result: CallbackResult, delay: int
) -> None:
    callbacks.results.append(result)
    original = message()

    outcome = worker.process_record(record(original, MAX_RECEIVES))

    assert outcome == "requeued"  # the original record counts as done: SQS must not redrive it
    [fresh] = sqs.sent
    assert fresh["QueueUrl"] == WORK_QUEUE and fresh["DelaySeconds"] == delay
    assert QueuedInvocation.model_validate_json(fresh["MessageBody"]) == original
    assert json.loads(fresh["MessageBody"])["secret"] == SECRET
    attributes = fresh["MessageAttributes"]
    assert attributes["triggerId"]["StringValue"] == DECIDE
    assert attributes["invocationId"]["StringValue"] == INVOCATION_ID
    assert "requeuedAt" in attributes
    assert sqs.visibility == []


def test_a_requeue_that_fails_leaves_the_record_to_sqs(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    callbacks.results.append(CallbackResult(CallbackOutcome.RETRY, "HTTP 500", status=500))
    sqs.fail_send = True

    with pytest.raises(ConnectionError):
        worker.process_record(record(message(), MAX_RECEIVES))


@pytest.mark.parametrize("status", [400, 403, 404, 409])
def test_a_permanently_refused_completion_is_dead_lettered_with_the_status(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs, status: int
) -> None:
    reason = f"HTTP {status}: output does not match the trigger's outputSchema"
    callbacks.results.append(CallbackResult(CallbackOutcome.PERMANENT, reason, status=status))

    outcome = worker.process_record(record(message()))

    assert outcome == "callback_rejected"
    [dead] = sqs.sent
    assert dead["QueueUrl"] == DLQ
    assert reason_of(dead) == f"completion refused: {reason}"
    assert f"HTTP {status}" in reason_of(dead)
    assert len(callbacks.calls) == 1 and sqs.visibility == []


def test_a_deadline_passing_while_retrying_the_completion_dead_letters(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = {"expired": False}
    monkeypatch.setattr(QueuedInvocation, "past_deadline", lambda self, now=None: clock["expired"])
    callbacks.on_call = lambda: clock.update(expired=True)
    callbacks.results.append(CallbackResult(CallbackOutcome.RETRY, "callback timed out"))

    outcome = worker.process_record(record(message()))

    assert outcome == "expired"
    [dead] = sqs.sent
    assert reason_of(dead) == "deadline passed while retrying: callback timed out"
    assert sqs.visibility == []


# -- the dead-letter message ---------------------------------------------------------------------
def test_the_dead_letter_keeps_the_original_body_and_says_why_and_what(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    callbacks.results.append(CallbackResult(CallbackOutcome.PERMANENT, "HTTP 400: bad", status=400))
    original = record(message(), receive_count=2)

    worker.process_record(original)

    [dead] = sqs.sent
    assert dead["MessageBody"] == original["body"]  # byte for byte: it can be replayed as is
    attributes = dead["MessageAttributes"]
    assert set(attributes) == {"reason", "failedAt", "receiveCount", "triggerId", "invocationId"}
    assert attributes["triggerId"] == {"DataType": "String", "StringValue": DECIDE}
    assert attributes["invocationId"] == {"DataType": "String", "StringValue": INVOCATION_ID}
    assert attributes["receiveCount"] == {"DataType": "Number", "StringValue": "2"}
    assert datetime.fromisoformat(attributes["failedAt"]["StringValue"]).tzinfo is not None
    assert all(SECRET not in value["StringValue"] for value in attributes.values())


def test_a_dead_letter_that_cannot_be_sent_leaves_the_record_to_sqs(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    sqs.fail_send = True

    with pytest.raises(ConnectionError):
        worker.process_record(record("poison"))


def test_a_long_reason_is_cut_to_fit_an_attribute(
    worker: Worker, callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    callbacks.results.append(CallbackResult(CallbackOutcome.PERMANENT, "HTTP 400: " + "x" * 5000, status=400))

    worker.process_record(record(message()))

    assert len(reason_of(sqs.sent[0])) == 1000


def test_no_path_logs_the_callback_secret(
    callbacks: FakeCallbacks, sqs: FakeSqs, captured_logs: io.StringIO
) -> None:
    worker = Worker(settings(), REGISTRY, callbacks, sqs)
    callbacks.results.extend(
        [
            CallbackResult(CallbackOutcome.RETRY, "HTTP 500", status=500),
            CallbackResult(CallbackOutcome.RETRY, "HTTP 500", status=500),
            CallbackResult(CallbackOutcome.PERMANENT, "HTTP 400: nope", status=400),
        ]
    )
    records = [
        record(message()),  # retried
        record(message(), MAX_RECEIVES),  # requeued
        record(message()),  # dead-lettered (refused)
        record(message(BROKEN)),  # handler failure, retried
        record(message(BROKEN), MAX_RECEIVES),  # failed at SailPoint, dead-lettered
        record(message(callback_url=CALLBACK.replace("acme", "evil"))),  # refused URL
        record(message(deadline=timedelta(seconds=-1))),  # expired
        record(message()),  # completed
    ]
    for item in records:
        with contextlib.suppress(RetryLater):
            worker.process_record(item)

    text = captured_logs.getvalue()
    for expected in ("invocation dead-lettered", "invocation will be retried", "invocation completed"):
        assert expected in text
    assert SECRET not in text
    assert "Jane Doe" not in text  # nor the payload (identity data)


# -- idempotency --------------------------------------------------------------------------------
def once_per_key() -> tuple[Callable[[Callable[..., str]], Callable[..., str]], list[str]]:
    """A stand-in for Powertools' idempotent_function: one run per idempotency key, failures forgotten."""
    done: dict[str, str] = {}
    runs: list[str] = []

    def run_once(function: Callable[..., str]) -> Callable[..., str]:
        def wrapper(*, message: QueuedInvocation, **kwargs: Any) -> str:
            if message.idempotency_key in done:
                return done[message.idempotency_key]
            runs.append(message.idempotency_key)
            done[message.idempotency_key] = function(message=message, **kwargs)
            return done[message.idempotency_key]

        return wrapper

    return run_once, runs


def test_a_duplicate_invocation_is_handled_and_completed_once(callbacks: FakeCallbacks, sqs: FakeSqs) -> None:
    run_once, runs = once_per_key()
    worker = Worker(settings(), REGISTRY, callbacks, sqs, run_once=run_once)

    outcomes = [worker.process_record(record(message())) for _ in range(2)]

    assert outcomes == ["completed", "duplicate"]
    assert len(CALLS) == 1 and len(callbacks.calls) == 1
    assert runs == [f"{DECIDE}#{INVOCATION_ID}"]


def test_a_duplicate_is_logged_with_its_key_and_counted_as_duplicate(
    callbacks: FakeCallbacks, sqs: FakeSqs, service_logs: io.StringIO
) -> None:
    run_once, _ = once_per_key()
    worker = Worker(settings(), REGISTRY, callbacks, sqs, run_once=run_once)

    worker.process_record(record(message()))
    outcome = worker.process_record(record(message()))

    assert outcome is WorkerOutcome.DUPLICATE
    lines = [json.loads(line) for line in service_logs.getvalue().splitlines()]
    [skipped] = [line for line in lines if "skipped" in line["message"]]
    assert skipped["message"] == f"duplicate of {DECIDE}#{INVOCATION_ID}, skipped"
    assert skipped["first_outcome"] == "completed"


def redriven(sent: dict[str, Any]) -> dict[str, Any]:
    """The record the worker receives after `dlq redrive` moved a dead-lettered message back."""
    moved = record(sent["MessageBody"])
    moved["messageAttributes"] = {
        name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
        for name, value in redriven_attributes(sent["MessageAttributes"]).items()
    }
    return moved


def test_a_dead_lettered_outcome_is_not_kept_as_done_and_its_redrive_runs_the_handler(
    callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    run_once, runs = once_per_key()
    worker = Worker(settings(), REGISTRY, callbacks, sqs, run_once=run_once)
    # Given a completion SailPoint refused: dead-lettered after the handler ran
    callbacks.results.append(
        CallbackResult(CallbackOutcome.PERMANENT, "HTTP 400: invalid output", status=400)
    )
    assert worker.process_record(record(message())) is WorkerOutcome.CALLBACK_REJECTED
    [dead] = sqs.dead_letters()
    # When it is redriven
    outcome = worker.process_record(redriven(dead))
    # Then the handler ran again, as a redrive, and completed the invocation
    assert outcome is WorkerOutcome.COMPLETED
    assert [context.delivery for _, _, context in CALLS if context] == [
        DeliveryKind.LIVE,
        DeliveryKind.REDRIVE,
    ]
    assert len(callbacks.calls) == 2 and len(runs) == 2
    # And that finished run is kept: a further copy is a duplicate
    assert worker.process_record(redriven(dead)) is WorkerOutcome.DUPLICATE


def test_a_redriven_invocation_sailpoint_closed_runs_as_a_replay_and_is_never_completed_again(
    callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    worker = Worker(settings(), REGISTRY, callbacks, sqs)
    # Given a request-response invocation the worker failed at SailPoint (handler failed on every try)
    failing = message(BROKEN)
    assert worker.process_record(record(failing, MAX_RECEIVES)) is WorkerOutcome.HANDLER_FAILED
    [dead] = sqs.dead_letters()
    assert dead["MessageAttributes"]["closedAtSailPoint"]["StringValue"] == "true"
    assert [call.error for call in callbacks.calls] == ["the receiver could not process this invocation"]
    # When the handler is fixed and the message redriven
    fixed = record(dead["MessageBody"].replace(BROKEN, DECIDE))
    fixed["messageAttributes"] = redriven(dead)["messageAttributes"]
    outcome = worker.process_record(fixed)
    # Then the handler ran as a replay, and nothing more was sent to SailPoint
    assert outcome is WorkerOutcome.PROCESSED
    assert [context.delivery for _, _, context in CALLS if context] == [DeliveryKind.REPLAY]
    assert len(callbacks.calls) == 1


def test_a_redriven_request_response_past_its_deadline_runs_as_a_replay(
    callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    worker = Worker(settings(), REGISTRY, callbacks, sqs)
    late = record(message(deadline=timedelta(seconds=-1)))
    late["messageAttributes"] = {"redrivenAt": {"stringValue": datetime.now(UTC).isoformat()}}

    assert worker.process_record(late) is WorkerOutcome.PROCESSED

    assert [context.delivery for _, _, context in CALLS if context] == [DeliveryKind.REPLAY]
    assert callbacks.calls == [] and sqs.dead_letters() == []


def test_a_retried_invocation_runs_again_and_poison_never_reaches_the_idempotency_layer(
    callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    run_once, runs = once_per_key()
    worker = Worker(settings(), REGISTRY, callbacks, sqs, run_once=run_once)
    callbacks.results.append(CallbackResult(CallbackOutcome.RETRY, "HTTP 500", status=500))

    with pytest.raises(RetryLater):
        worker.process_record(record(message()))
    assert worker.process_record(record(message(), 2)) == "completed"
    assert worker.process_record(record("poison")) == "poison"

    assert len(callbacks.calls) == 2 and len(runs) == 2


# -- helpers ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("count", "seconds"), [(0, 2), (1, 2), (2, 4), (3, 8), (9, 512), (10, 900), (50, 900)]
)
def test_backoff_doubles_per_receive_up_to_fifteen_minutes(count: int, seconds: int) -> None:
    assert backoff_seconds(count) == seconds


def test_a_delivery_becomes_the_queue_message_the_worker_reads() -> None:
    received = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    delivery = split_envelope(
        DECIDE,
        {
            "item": "laptop",
            "_metadata": {
                "callbackURL": CALLBACK,
                "secret": SECRET,
                "responseMode": "async",
                "triggerType": "requestResponse",
            },
        },
    )

    queued = queued_invocation(delivery, TriggerType.REQUEST_RESPONSE, timedelta(hours=1), now=received)

    assert queued.invocation_id == INVOCATION_ID and queued.idempotency_key == f"{DECIDE}#{INVOCATION_ID}"
    assert queued.mode is ResponseMode.ASYNC and queued.deadline == received + timedelta(hours=1)
    assert queued.payload == {"item": "laptop"} and queued.expects_answer
    assert SECRET not in repr(queued) and SECRET in queued.model_dump_json()
    assert QueuedInvocation.model_validate_json(queued.model_dump_json()) == queued


def test_a_fire_and_forget_delivery_is_keyed_by_its_content() -> None:
    first = queued_invocation(
        split_envelope(NOTIFY, {"a": 1, "b": [1, 2]}), TriggerType.FIRE_AND_FORGET, timedelta(hours=1)
    )
    same = queued_invocation(
        split_envelope(NOTIFY, {"b": [1, 2], "a": 1}), TriggerType.FIRE_AND_FORGET, timedelta(hours=1)
    )
    other = queued_invocation(
        split_envelope(DECIDE, {"a": 1, "b": [1, 2]}), TriggerType.FIRE_AND_FORGET, timedelta(hours=1)
    )

    assert first.idempotency_key == same.idempotency_key != other.idempotency_key
    assert first.mode is None and first.callback_url is None and first.deadline is None
    assert not first.expects_answer


def test_a_callback_without_its_secret_is_poison() -> None:
    body = json.dumps({**json.loads(message().model_dump_json()), "secret": None})
    sqs = FakeSqs()
    outcome = Worker(settings(), REGISTRY, FakeCallbacks(), sqs).process_record(record(body))
    assert outcome == "poison" and reason_of(sqs.sent[0]).startswith("malformed queue message")


def test_a_handler_module_that_fails_to_import_fails_the_invocation_with_a_reason(
    callbacks: FakeCallbacks, sqs: FakeSqs, handler_package: HandlerPackage
) -> None:
    # The trigger's module exists, but a dependency it imports was not deployed
    handler_package.add("import_fails", "import no_such_dependency_of_the_handler\n")
    registry = HandlerRegistry(handler_package.name)
    worker = Worker(settings(ENABLED_TRIGGERS="*"), registry, callbacks, sqs)

    outcome = worker.process_record(record(message("idn:import-fails")))

    assert outcome == "no_handler"
    assert [call.error for call in callbacks.calls] == ["the receiver could not process this invocation"]
    assert reason_of(sqs.dead_letters()[0]) == "handler module failed to load (ModuleNotFoundError)"


# -- the delivery archive ---------------------------------------------------------------------------
@dataclass
class RecordingArchive:
    """The archive at the worker's port: keeps what would be written; `fail` makes it raise."""

    records: list[Any] = field(default_factory=list)
    fail: bool = False

    def record(self, archived: Any) -> bool:
        if self.fail:
            raise ConnectionError("archive down")
        self.records.append(archived)
        return True


def test_a_completed_invocation_is_archived_once_with_its_answer(
    callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    archive = RecordingArchive()
    worker = Worker(settings(), REGISTRY, callbacks, sqs, archive=archive)
    assert worker.process_record(record(message())) is WorkerOutcome.COMPLETED
    [archived] = archive.records
    assert (archived.outcome, archived.status_code, archived.answer) == (
        "completed",
        200,
        callbacks.calls[0].output,
    )
    assert SECRET not in archived.model_dump_json()


def test_a_record_that_will_be_retried_is_not_archived_until_it_ends(
    callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    archive = RecordingArchive()
    worker = Worker(settings(), REGISTRY, callbacks, sqs, archive=archive)
    with pytest.raises(RetryLater):
        worker.process_record(record(message(BROKEN), receive_count=1))
    assert archive.records == []
    assert (
        worker.process_record(record(message(BROKEN), receive_count=MAX_RECEIVES))
        is WorkerOutcome.HANDLER_FAILED
    )
    assert [a.outcome for a in archive.records] == ["handler_failed"]


def test_a_duplicate_absorbed_by_idempotency_is_not_archived_again(
    callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    archive = RecordingArchive()
    done: dict[str, str] = {}

    def run_once(function: Callable[..., str]) -> Callable[..., str]:
        def wrapper(**kwargs: Any) -> str:
            key = kwargs["message"].idempotency_key
            if key not in done:
                done[key] = function(**kwargs)
            return done[key]

        return wrapper

    worker = Worker(settings(), REGISTRY, callbacks, sqs, run_once, archive=archive)
    for _ in range(2):
        worker.process_record(record(message(NOTIFY, request_response=False)))
    assert [a.outcome for a in archive.records] == ["processed"]


def test_an_archive_that_raises_changes_nothing_the_worker_does(
    callbacks: FakeCallbacks, sqs: FakeSqs
) -> None:
    worker = Worker(settings(), REGISTRY, callbacks, sqs, archive=RecordingArchive(fail=True))
    assert worker.process_record(record(message())) is WorkerOutcome.COMPLETED
    assert len(callbacks.calls) == 1 and sqs.sent == []
