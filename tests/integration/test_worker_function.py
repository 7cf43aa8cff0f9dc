"""The worker Lambda entry point (functions/worker/app.py) end to end: SQS, DynamoDB and Secrets
Manager served by moto over HTTP, SailPoint by the tenant simulator over HTTP.

Invocations are real: a subscription on the simulator delivers to a tiny subscriber, whose received
body becomes the queue message exactly as the receiver would build it. The simulator is reached
through a transparent front that records the completions in flight (to show that a batch completes
concurrently) and the bearer tokens sent.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests
from pydantic import SecretStr

from idn_local.sources import sqs_event
from idn_simulator import InvocationState, SimulatorConfig, TenantSimulator
from idn_tools.ops import DeadLetterQueue
from idn_triggers.catalogue import TriggerType
from idn_triggers.envelope import split_envelope
from idn_triggers.queue import QueuedInvocation, QueueSender, queued_invocation
from tests.integration.conftest_simulator import (
    CLIENT_ID,
    CLIENT_SECRET,
    PRE_APPROVAL,
    Client,
    Receiver,
    http_subscription,
    running_receiver,
)
from tests.product_handlers.shared import APPROVED, APPROVER
from tests.support import FakeLambdaContext, load_function

IDENTITY_CREATED = "idn:identity-created"
DEFAULT_DECISION = {
    "approved": True,
    "comment": APPROVED,
    "approver": APPROVER,
}
MAX_RECEIVES = 3


# -- a transparent front of the simulator -------------------------------------------------------
@dataclass
class Front:
    """Forwards every POST to the simulator; counts completions in flight.

    With `gate` set, each completion waits (up to 2 s) until that many have been in flight at once,
    so overlap is observed without timing anything.
    """

    url: str
    target: str = ""
    gate: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    authorizations: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    session: requests.Session = field(default_factory=requests.Session)

    def forward(self, path: str, headers: dict[str, str], body: bytes) -> requests.Response:
        completion = path.endswith("/complete")
        if completion:
            with self.changed:
                self.authorizations.append(headers.get("Authorization", ""))
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                self.changed.notify_all()
                self.changed.wait_for(lambda: self.max_in_flight >= self.gate, timeout=2)
        try:
            keep = {k: v for k, v in headers.items() if k.lower() in ("authorization", "content-type")}
            return self.session.post(self.target + path, data=body, headers=keep, timeout=10)
        finally:
            if completion:
                with self.changed:
                    self.in_flight -= 1


@pytest.fixture
def front() -> Iterator[Front]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = state.forward(self.path, dict(self.headers.items()), body)
            self.send_response(answer.status_code)
            for name in ("Content-Type", "Retry-After"):
                if name in answer.headers:
                    self.send_header(name, answer.headers[name])
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Front(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()
    state.session.close()


# -- the stack ----------------------------------------------------------------------------------
@dataclass
class Stack:
    worker: ModuleType
    simulator: TenantSimulator
    subscriber: Receiver
    front: Front
    sqs: Any
    work_url: str
    work_arn: str
    dlq_url: str
    visibility_changes: list[dict[str, Any]]

    # invocations ---------------------------------------------------------------------------
    def invocation(self, trigger_id: str = PRE_APPROVAL) -> QueuedInvocation:
        """Fire an event, let the simulator deliver it, and build the message the receiver would queue."""
        [record] = self.simulator.fire_event(trigger_id)
        self.simulator.wait_for_invocation(record.id)
        if record.callback_url is None:  # fire-and-forget: nothing to complete
            delivery = split_envelope(trigger_id, record.input)
            return queued_invocation(delivery, TriggerType.FIRE_AND_FORGET, timedelta(hours=1))
        [body] = [
            received.body
            for received in self.subscriber.received
            if received.body.get("_metadata", {}).get("callbackURL") == record.callback_url
        ]
        return queued_invocation(
            split_envelope(trigger_id, body), TriggerType.REQUEST_RESPONSE, timedelta(hours=1)
        )

    def send(self, message: QueuedInvocation | str) -> None:
        if isinstance(message, str):
            self.sqs.send_message(QueueUrl=self.work_url, MessageBody=message)
        else:
            QueueSender(self.work_url).send(message)  # the receiver's own sender

    def receive(self, count: int = 10, wait: int = 2) -> list[dict[str, Any]]:
        """Up to `count` messages, as the event source mapping receives them (long polling)."""
        messages: list[dict[str, Any]] = []
        while len(messages) < count:
            got = self.sqs.receive_message(
                QueueUrl=self.work_url,
                MaxNumberOfMessages=min(10, count - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                VisibilityTimeout=60,
                WaitTimeSeconds=0 if messages else wait,
            ).get("Messages", [])
            if not got:
                break
            messages.extend(got)
        return messages

    def deliver(self, messages: list[dict[str, Any]]) -> list[str]:
        """Invoke the worker with one batch; delete what succeeded (as Lambda does); return failures."""
        response = self.worker.lambda_handler(sqs_event(messages, self.work_arn), FakeLambdaContext())
        failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.work_url, ReceiptHandle=message["ReceiptHandle"])
        return failed

    def make_visible(self, message: dict[str, Any]) -> None:
        """What the passing of the visibility timeout would do."""
        self.sqs.change_message_visibility(
            QueueUrl=self.work_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )

    def dead_letters(self) -> list[dict[str, Any]]:
        return list(
            self.sqs.receive_message(
                QueueUrl=self.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
        )


def reason(message: dict[str, Any]) -> str:
    return str(message["MessageAttributes"]["reason"]["StringValue"])


@pytest.fixture
def stack(aws: str, front: Front, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(QueueName="work-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}
    work_url = sqs.create_queue(
        QueueName="work", Attributes={"RedrivePolicy": json.dumps(redrive), "VisibilityTimeout": "180"}
    )["QueueUrl"]
    work_arn = sqs.get_queue_attributes(QueueUrl=work_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto3.client("dynamodb").create_table(
        TableName="idempotency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    secrets = boto3.client("secretsmanager")
    secret_arn = secrets.create_secret(
        Name="sailpoint-client",
        SecretString=json.dumps({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}),
    )["ARN"]
    # The refresher's token secret as deployed, before its first run: the worker obtains its own token.
    token_arn = secrets.create_secret(Name="sailpoint-token", SecretString="{}")["ARN"]
    with contextlib.ExitStack() as cleanup:  # undone in reverse, even if set-up fails half way
        simulator = TenantSimulator(
            SimulatorConfig(
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                rate_limit_per_10s=None,
                public_url=front.url,
            )
        ).start()
        cleanup.callback(simulator.stop)
        front.target = f"http://127.0.0.1:{simulator.port}"
        subscriber = cleanup.enter_context(running_receiver())
        client = Client(simulator)
        for trigger_id, mode in ((PRE_APPROVAL, "ASYNC"), (IDENTITY_CREATED, "SYNC")):
            created = client.post(
                "/trigger-subscriptions/v1", json=http_subscription(trigger_id, subscriber.url, mode)
            )
            assert created.status_code == 201, created.text
        client.close()
        for key, value in {
            "TENANT_API_URL": front.url,
            "ALLOW_HTTP_CALLBACKS": "true",
            "SAILPOINT_CLIENT_SECRET_ID": secret_arn,
            "TOKEN_SECRET_ID": token_arn,
            "IDEMPOTENCY_TABLE": "idempotency",
            "WORK_QUEUE_URL": work_url,
            "DEAD_LETTER_QUEUE_URL": dlq_url,
            "MAX_RECEIVE_COUNT": str(MAX_RECEIVES),
        }.items():
            monkeypatch.setenv(key, value)
        worker = load_function("worker")
        cleanup.callback(worker.worker.callbacks.session.close)
        pool = getattr(worker, "RECORD_THREADS", None)  # the record threads of this "container"
        if pool is not None:
            cleanup.callback(pool.shutdown)
        changes: list[dict[str, Any]] = []
        worker.worker.sqs.meta.events.register(
            "provide-client-params.sqs.ChangeMessageVisibility",
            lambda params, **_: changes.append(dict(params)),
        )
        yield Stack(worker, simulator, subscriber, front, sqs, work_url, work_arn, dlq_url, changes)
    leftovers = [
        t.name for t in threading.enumerate() if t.name.startswith(("tenant-simulator", "sim-delivery"))
    ]
    assert not leftovers, leftovers


# -- the tests ----------------------------------------------------------------------------------
def test_an_async_invocation_is_completed_at_the_tenant(stack: Stack) -> None:
    message = stack.invocation()
    stack.send(message)

    failed = stack.deliver(stack.receive(1))

    assert failed == []
    record = stack.simulator.invocation(message.invocation_id)
    assert record.state is InvocationState.COMPLETED and record.completed_via == "callback"
    assert record.output == DEFAULT_DECISION  # accepted: valid output, right secret, valid bearer token
    [attempt] = record.attempts
    assert attempt.accepted and attempt.status == 204
    assert stack.front.authorizations[0].startswith("Bearer ")
    assert stack.simulator.stats.completions == 1
    assert stack.dead_letters() == [] and stack.visibility_changes == []


def test_a_fire_and_forget_record_is_handled_and_nothing_is_completed(stack: Stack) -> None:
    stack.send(stack.invocation(IDENTITY_CREATED))

    assert stack.deliver(stack.receive(1)) == []
    assert stack.simulator.stats.completions == 0 and stack.dead_letters() == []


def test_a_poison_record_is_dead_lettered_with_its_reason_and_not_reported_as_failed(stack: Stack) -> None:
    message = stack.invocation()
    stack.send(message)
    stack.send("this is not a QueuedInvocation")

    failed = stack.deliver(stack.receive(2))

    assert failed == []
    [dead] = stack.dead_letters()
    assert dead["Body"] == "this is not a QueuedInvocation"
    assert reason(dead) == "malformed queue message: not a QueuedInvocation v1"
    assert stack.simulator.invocation(message.invocation_id).state is InvocationState.COMPLETED
    assert stack.receive(1, wait=0) == []  # both were deleted


def test_eventbridge_events_share_a_batch_with_queued_invocations_and_a_malformed_one_is_dead_lettered(
    stack: Stack,
) -> None:
    # Given a batch of a receiver's message, a good EventBridge event and one without invocationId
    message = stack.invocation(IDENTITY_CREATED)
    event = {
        "version": "0",
        "id": "41805c90-9744-b393-f101-02a257511062",
        "detail-type": IDENTITY_CREATED,
        "source": "aws.partner/sailpoint.com/54d68478-7e9b-46f5-ae82-89a5055df5f2/idn/identity-created",
        "account": "123456789012",
        "time": "2021-03-01T14:47:25Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {**message.payload, "_metadata": {"invocationId": "eb-1", "triggerId": IDENTITY_CREATED}},
    }
    malformed = {**event, "detail": dict(message.payload)}
    stack.send(message)
    stack.send(json.dumps(event))
    stack.send(json.dumps(malformed))
    # When the worker gets them in one batch
    failed = stack.deliver(stack.receive(3))
    # Then nothing is reported failed, and only the malformed event is dead-lettered, with its reason
    assert failed == []
    [dead] = stack.dead_letters()
    assert json.loads(dead["Body"]) == malformed
    assert reason(dead) == "malformed EventBridge event: EventBridge event without detail._metadata"
    assert stack.receive(1, wait=0) == []


def test_a_duplicate_in_a_later_batch_completes_once(stack: Stack) -> None:
    message = stack.invocation()
    stack.send(message)
    stack.send(message)  # the same invocation queued twice

    first, second = stack.receive(1), stack.receive(1)
    assert stack.deliver(first) == [] and stack.deliver(second) == []

    assert stack.simulator.stats.completions == 1
    items = boto3.client("dynamodb").scan(TableName="idempotency")["Items"]
    assert [item["status"]["S"] for item in items] == ["COMPLETED"]


@pytest.mark.parametrize(("status", "retry_after", "visibility"), [(500, None, 2), (429, 7, 7)])
def test_a_transient_completion_failure_is_retried_then_completed_once(
    stack: Stack, status: int, retry_after: int | None, visibility: int
) -> None:
    message = stack.invocation()
    stack.send(message)
    stack.simulator.faults.fail_next_completions(1, status=status, retry_after=retry_after)

    [first] = stack.receive(1)
    assert stack.deliver([first]) == [first["MessageId"]]
    assert stack.visibility_changes == [
        {"QueueUrl": stack.work_url, "ReceiptHandle": first["ReceiptHandle"], "VisibilityTimeout": visibility}
    ]
    assert stack.simulator.invocation(message.invocation_id).state is InvocationState.AWAITING_CALLBACK

    stack.make_visible(first)
    [second] = stack.receive(1)
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    assert stack.deliver([second]) == []

    assert stack.simulator.invocation(message.invocation_id).state is InvocationState.COMPLETED
    assert stack.simulator.stats.completions == 2 and stack.simulator.stats.completions_accepted == 1
    assert stack.dead_letters() == []


def test_a_transient_failure_on_the_last_receive_is_requeued_not_redriven(stack: Stack) -> None:
    message = stack.invocation()
    stack.send(message)
    for _ in range(MAX_RECEIVES - 1):  # earlier receives whose processing was lost
        [lost] = stack.receive(1)
        stack.make_visible(lost)
    [last] = stack.receive(1)
    assert last["Attributes"]["ApproximateReceiveCount"] == str(MAX_RECEIVES)
    stack.simulator.faults.fail_next_completions(1, status=429, retry_after=1)

    assert stack.deliver([last]) == []  # the original is done with; a fresh copy carries on

    [fresh] = stack.receive(1)  # after its 1 s delay
    assert fresh["Attributes"]["ApproximateReceiveCount"] == "1"
    assert QueuedInvocation.model_validate_json(fresh["Body"]) == message
    assert fresh["MessageAttributes"]["triggerId"]["StringValue"] == PRE_APPROVAL
    assert stack.deliver([fresh]) == []
    assert stack.simulator.invocation(message.invocation_id).state is InvocationState.COMPLETED
    assert stack.dead_letters() == []


@pytest.mark.parametrize(
    ("arrange", "expected"),
    [
        ("injected-400", "completion refused: HTTP 400: injected fault"),
        ("wrong-secret", "completion refused: HTTP 403: secret does not match the invocation"),
    ],
)
def test_a_permanently_refused_completion_is_dead_lettered_with_the_reason(
    stack: Stack, arrange: str, expected: str
) -> None:
    message = stack.invocation()
    if arrange == "wrong-secret":
        message = message.model_copy(update={"secret": SecretStr("not-the-secret")})
    else:
        stack.simulator.faults.fail_next_completions(1, status=400)
    stack.send(message)
    [original] = stack.receive(1)

    assert stack.deliver([original]) == []

    [dead] = stack.dead_letters()
    assert reason(dead) == expected
    assert dead["Body"] == original["Body"]
    assert dead["MessageAttributes"]["invocationId"]["StringValue"] == message.invocation_id
    assert dead["MessageAttributes"]["triggerId"]["StringValue"] == PRE_APPROVAL
    assert stack.simulator.invocation(message.invocation_id).state is InvocationState.AWAITING_CALLBACK


def test_a_dead_lettered_invocation_leaves_no_idempotency_record_and_a_redrive_completes_it(
    stack: Stack,
) -> None:
    # Given an invocation whose completion SailPoint refused once: dead-lettered
    message = stack.invocation()
    stack.send(message)
    stack.simulator.faults.fail_next_completions(1, status=400)
    assert stack.deliver(stack.receive(1)) == []
    dlq = DeadLetterQueue(stack.sqs, stack.dlq_url)
    assert [letter.invocation_id for letter in dlq.list()] == [message.invocation_id]
    # Then nothing counts it as done for de-duplication
    assert boto3.client("dynamodb").scan(TableName="idempotency")["Items"] == []
    # When the operator redrives it (the ops tool's own redrive) and the worker receives it
    moved, _ = dlq.redrive(stack.work_url)
    assert [letter.invocation_id for letter in moved] == [message.invocation_id]
    [redriven] = stack.receive(1)
    assert "redrivenAt" in redriven["MessageAttributes"]
    assert stack.deliver([redriven]) == []
    # Then the handler ran again and the invocation is completed, and that run is kept as done
    assert stack.simulator.invocation(message.invocation_id).state is InvocationState.COMPLETED
    items = boto3.client("dynamodb").scan(TableName="idempotency")["Items"]
    assert [item["status"]["S"] for item in items] == ["COMPLETED"]


def test_a_batch_of_ten_completes_concurrently(stack: Stack) -> None:
    messages = [stack.invocation() for _ in range(10)]
    for message in messages:
        stack.send(message)
    stack.front.gate = 2  # each completion waits until two have been in flight together

    batch = stack.receive(10)
    assert len(batch) == 10
    assert stack.deliver(batch) == []

    for message in messages:
        assert stack.simulator.invocation(message.invocation_id).state is InvocationState.COMPLETED
    assert stack.simulator.stats.completions_accepted == 10
    assert stack.front.max_in_flight > 1
    assert stack.simulator.stats.tokens_issued == 2  # the test's own client, then one for the whole batch


def test_logs_never_hold_the_callback_secret_the_client_secret_or_the_access_token(
    aws: str, front: Front, captured_logs: io.StringIO, request: pytest.FixtureRequest
) -> None:
    # Given an operator who turned logging to DEBUG before the cold start
    root = logging.getLogger()
    service = logging.getLogger(os.environ["POWERTOOLS_SERVICE_NAME"])
    quiet = [logging.getLogger(name) for name in ("moto", "werkzeug", "idn_local")]  # the fakes, not us
    sdk = [logging.getLogger(name) for name in ("botocore", "boto3", "urllib3", "s3transfer")]
    for logger, level in [(root, logging.DEBUG), (service, logging.DEBUG)] + [
        (q, logging.WARNING) for q in quiet
    ]:
        request.addfinalizer(lambda logger=logger, old=logger.level: logger.setLevel(old))
        logger.setLevel(level)
    for logger in sdk:  # as the worker's cold start will (this keeps the test's own set-up quiet)
        request.addfinalizer(lambda logger=logger, old=logger.level: logger.setLevel(old))
        logger.setLevel(logging.INFO)
    stack = request.getfixturevalue("stack")

    # When invocations complete, retry, and are dead-lettered
    done, retried, refused = stack.invocation(), stack.invocation(), stack.invocation()
    for message in (done, retried, refused):
        stack.send(message)
    stack.simulator.faults.fail_next_completions(1, status=503)
    first = stack.receive(1)
    stack.deliver(first)
    stack.simulator.faults.fail_next_completions(1, status=400)
    stack.deliver(stack.receive(1))
    stack.deliver(stack.receive(1))
    stack.send("poison")
    stack.deliver(stack.receive(1))

    # Then the logs tell what happened, and hold no secret of any kind
    text = captured_logs.getvalue()
    for expected in ("invocation completed", "invocation will be retried", "invocation dead-lettered"):
        assert expected in text
    tokens = {header.removeprefix("Bearer ") for header in stack.front.authorizations}
    assert tokens and all(tokens)
    secrets = [m.secret.get_secret_value() for m in (done, retried, refused) if m.secret]
    for value in [*secrets, CLIENT_SECRET, *tokens]:
        assert value not in text


def test_a_missing_setting_fails_the_cold_start_naming_it(aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "TENANT_API_URL": "https://acme.api.identitynow.com",
        "TOKEN_SECRET_ID": "sailpoint-token",
        "IDEMPOTENCY_TABLE": "idempotency",
        "WORK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/work",
        "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/work-dlq",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SAILPOINT_CLIENT_SECRET_ID", raising=False)

    with pytest.raises(Exception, match="SAILPOINT_CLIENT_SECRET_ID"):
        load_function("worker")
