"""The generated ASYNC/DYNAMIC API events through the receiver, and the SQS events through the worker,
both cold-started from functions/ with AWS served by moto over HTTP.

The events name the tenant `https://acme.api.identitynow.com`, which these tests never reach: the
worker is pointed at it through a proxy that refuses every connection, so the tenant is
unreachable without a single packet leaving the machine.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest

from idn_triggers.envelope import ResponseMode
from idn_triggers.queue import QueuedInvocation
from tests.product_handlers.shared import APPROVED, APPROVER
from tests.support import FakeLambdaContext, load_event, load_function, trigger_document

TENANT = "https://acme.api.identitynow.com"
CALLBACK_SECRET = "local-dev-callback-secret"
BEARER_SECRET = {"bearerToken": "local-dev-bearer-token"}
PRE, DYN = "idn:access-request-pre-approval", "idn:access-request-dynamic-approver"
SHORT = {PRE: "pre-approval", DYN: "dynamic-approver"}
DEFAULT_DECISION = {
    "approved": True,
    "comment": APPROVED,
    "approver": APPROVER,
}
GROUP = {"id": "2c9180857182305e0171993735622948", "name": "Role Owners", "type": "GOVERNANCE_GROUP"}


@pytest.fixture
def queues(aws: str) -> dict[str, str]:
    sqs = boto3.client("sqs")
    return {
        "work": sqs.create_queue(QueueName="work")["QueueUrl"],
        "dlq": sqs.create_queue(QueueName="work-dlq")["QueueUrl"],
    }


def drain(queue_url: str) -> list[dict[str, Any]]:
    """Every message waiting in a queue (deleted as read)."""
    sqs = boto3.client("sqs")
    found: list[dict[str, Any]] = []
    while messages := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages"):
        for message in messages:
            found.append(message)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


# -- API events at the receiver -----------------------------------------------------------------
@pytest.fixture
def receiver(aws: str, queues: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., ModuleType]:
    arn = boto3.client("secretsmanager").create_secret(
        Name="inbound-bearer", SecretString=json.dumps(BEARER_SECRET)
    )["ARN"]

    def start(**env: str) -> ModuleType:
        for key, value in {
            "INBOUND_AUTH_TYPE": "BEARER_TOKEN",
            "INBOUND_SECRET_ID": arn,
            "TENANT_API_URL": TENANT,
            "WORK_QUEUE_URL": queues["work"],
            **env,
        }.items():
            monkeypatch.setenv(key, value)
        return load_function("receiver")

    return start


def invoke(module: ModuleType, event: dict[str, Any]) -> tuple[int, Any]:
    response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize("trigger_id", [PRE, DYN])
def test_an_async_delivery_is_acknowledged_and_queued_for_the_worker(
    receiver: Callable[..., ModuleType], queues: dict[str, str], trigger_id: str
) -> None:
    event = load_event(f"api/{SHORT[trigger_id]}.async.bearer.json")
    metadata = json.loads(event["body"])["_metadata"]

    assert invoke(receiver(), event) == (200, {})

    [queued] = drain(queues["work"])
    message = QueuedInvocation.model_validate_json(queued["Body"])
    assert (message.trigger_id, message.mode) == (trigger_id, ResponseMode.ASYNC)
    assert message.callback_url == metadata["callbackURL"]
    assert metadata["callbackURL"] == f"{TENANT}/trigger-invocations/v1/{message.invocation_id}/complete"
    assert message.secret is not None and message.secret.get_secret_value() == CALLBACK_SECRET
    assert message.deadline is not None and message.deadline - message.received_at == timedelta(hours=1)
    assert message.payload == trigger_document(trigger_id)["exampleInput"]
    assert queued["MessageAttributes"]["invocationId"]["StringValue"] == message.invocation_id


@pytest.mark.parametrize(
    ("trigger_id", "env", "answer"),
    [
        (PRE, {}, DEFAULT_DECISION),
        (DYN, {}, {"id": "", "name": "", "type": ""}),  # no rule: nobody, in the documented object form
        (DYN, {"PRODUCT_TEST_APPROVER_RULES": json.dumps({"ACCESS_PROFILE": GROUP})}, GROUP),
    ],
    ids=["pre-approval", "dynamic-approver-no-rule", "dynamic-approver-rule"],
)
def test_a_dynamic_delivery_is_answered_now_by_the_handler(
    receiver: Callable[..., ModuleType],
    queues: dict[str, str],
    trigger_id: str,
    env: dict[str, str],
    answer: Any,
) -> None:
    event = load_event(f"api/{SHORT[trigger_id]}.dynamic.bearer.json")

    assert invoke(receiver(**env), event) == (200, answer)
    assert drain(queues["work"]) == []


def test_a_dynamic_delivery_needing_review_is_deferred_to_the_worker(
    receiver: Callable[..., ModuleType], queues: dict[str, str]
) -> None:
    module = receiver(PRODUCT_TEST_REVIEW_ITEMS="Engineering Access")

    assert invoke(module, load_event("api/pre-approval.dynamic.bearer.json")) == (202, {})

    [queued] = drain(queues["work"])
    assert QueuedInvocation.model_validate_json(queued["Body"]).mode is ResponseMode.DYNAMIC


def test_a_callback_on_another_tenant_is_refused_and_nothing_is_queued(
    receiver: Callable[..., ModuleType], queues: dict[str, str]
) -> None:
    module = receiver(TENANT_API_URL="https://other.api.identitynow.com")

    code, body = invoke(module, load_event("api/pre-approval.async.bearer.json"))

    assert code == 400 and body["errors"][0]["field"] == "_metadata.callbackURL"
    assert CALLBACK_SECRET not in json.dumps(body)
    assert drain(queues["work"]) == []


@pytest.mark.parametrize("short", ["pre-approval", "dynamic-approver"])
def test_the_sqs_event_holds_what_the_receiver_queues_for_the_async_event(
    receiver: Callable[..., ModuleType], queues: dict[str, str], short: str
) -> None:
    invoke(receiver(), load_event(f"api/{short}.async.bearer.json"))
    [queued] = drain(queues["work"])
    [record] = load_event(f"sqs/{short}.async.json")["Records"]

    fresh = json.loads(queued["Body"])
    stored = json.loads(record["body"])
    for times in ("received_at", "deadline"):  # the only difference: when it was received
        fresh.pop(times), stored.pop(times)
    assert fresh == stored
    attributes = {name: value["StringValue"] for name, value in queued["MessageAttributes"].items()}
    assert attributes == {name: value["stringValue"] for name, value in record["messageAttributes"].items()}


# -- SQS events at the worker -------------------------------------------------------------------
@pytest.fixture
def unreachable_proxy() -> Iterator[str]:
    """A loopback address where nothing listens: every HTTPS request through it fails at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"http://127.0.0.1:{port}"


@pytest.fixture
def worker(
    aws: str, queues: dict[str, str], unreachable_proxy: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    boto3.client("dynamodb").create_table(
        TableName="idempotency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    secrets = boto3.client("secretsmanager")
    arn = secrets.create_secret(
        Name="sailpoint-client", SecretString=json.dumps({"clientId": "local", "clientSecret": "local"})
    )["ARN"]
    token_arn = secrets.create_secret(Name="sailpoint-token", SecretString="{}")["ARN"]  # none stored yet
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTPS_PROXY", "https_proxy"):  # moto is reached over http, so only the tenant is
        monkeypatch.setenv(name, unreachable_proxy)
    for key, value in {
        "TENANT_API_URL": TENANT,
        "SAILPOINT_CLIENT_SECRET_ID": arn,
        "TOKEN_SECRET_ID": token_arn,
        "IDEMPOTENCY_TABLE": "idempotency",
        "WORK_QUEUE_URL": queues["work"],
        "DEAD_LETTER_QUEUE_URL": queues["dlq"],
    }.items():
        monkeypatch.setenv(key, value)
    module = load_function("worker")
    yield module
    pool = getattr(module, "RECORD_THREADS", None)
    if pool is not None:
        pool.shutdown(wait=True)
    module.worker.callbacks.session.close()


def failures(module: ModuleType, event: dict[str, Any]) -> list[str]:
    response = module.lambda_handler(event, FakeLambdaContext())
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def reasons(queue_url: str) -> dict[str, str]:
    """Body -> reason of every dead letter."""
    return {m["Body"]: m["MessageAttributes"]["reason"]["StringValue"] for m in drain(queue_url)}


def test_the_fire_and_forget_event_is_processed(worker: ModuleType, queues: dict[str, str]) -> None:
    assert failures(worker, load_event("sqs/identity-created.json")) == []
    assert drain(queues["dlq"]) == []


def test_the_poison_record_is_dead_lettered_and_the_other_processed(
    worker: ModuleType, queues: dict[str, str]
) -> None:
    event = load_event("sqs/batch-with-poison.json")

    assert failures(worker, event) == []
    assert reasons(queues["dlq"]) == {
        "this is not a QueuedInvocation": "malformed queue message: not a QueuedInvocation v1"
    }


@pytest.mark.parametrize("short", ["pre-approval", "dynamic-approver"])
def test_a_request_response_event_read_after_its_deadline_is_dead_lettered_uncalled(
    worker: ModuleType, queues: dict[str, str], short: str
) -> None:
    # Given the event as generated: received 2026-11-27T12:00Z with the default PT1H deadline
    event = load_event(f"sqs/{short}.async.json")

    assert failures(worker, event) == []

    [record] = event["Records"]
    assert reasons(queues["dlq"]) == {record["body"]: "response deadline passed before completion"}
    assert worker.worker.callbacks.calls == 0


@pytest.mark.parametrize("short", ["pre-approval", "dynamic-approver"])
def test_a_request_response_event_within_its_deadline_is_retried_while_the_tenant_is_unreachable(
    worker: ModuleType, queues: dict[str, str], short: str, captured_logs: io.StringIO
) -> None:
    # Given the event with a deadline still ahead, and the tenant out of reach
    event = load_event(f"sqs/{short}.async.json")
    [record] = event["Records"]
    body = json.loads(record["body"])
    body["deadline"] = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    record["body"] = json.dumps(body)

    # Then the record is reported failed (retried later), and nothing is dead-lettered
    assert failures(worker, event) == [record["messageId"]]
    # the token grant is what could not get through
    assert "no access token: token endpoint unreachable (ProxyError)" in captured_logs.getvalue()
    assert drain(queues["dlq"]) == []
