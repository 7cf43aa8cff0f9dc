"""Every trigger through the receiver Lambda entry point, from its generated `events/` file, with the
inbound secret and the work queue served by moto over HTTP.

A fire-and-forget delivery is acknowledged with `200 {}` once it is safe: either its handler ran
inline, or it was queued for the worker (when the receiver has a work queue). The tests accept
either, and check that one of them happened.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import jsonschema
import pytest

from idn_triggers.catalogue import known_triggers, trigger_document
from idn_triggers.handlers import trigger_handler
from idn_triggers.models.generic import GenericTriggerEvent
from tests.product_handlers import HANDLER_EXCEPTIONS
from tests.support import EVENTS, ROOT, FakeLambdaContext, load_event, load_function

BEARER_SECRET = {"bearerToken": "local-dev-bearer-token"}
FIRE_AND_FORGET = sorted(t for t, info in known_triggers().items() if not info.is_request_response)
PRE, DYN = "idn:access-request-pre-approval", "idn:access-request-dynamic-approver"
NEW_TRIGGER = "idn:not-in-the-catalogue-yet"
received: list[dict[str, Any]] = []


@trigger_handler(NEW_TRIGGER)
def handle_new_trigger(event: GenericTriggerEvent) -> None:
    received.append(event.payload)


@pytest.fixture
def queue_url(aws: str) -> str:
    """A work queue in moto (a receiver without queue support ignores WORK_QUEUE_URL)."""
    return str(boto3.client("sqs").create_queue(QueueName="work")["QueueUrl"])


@pytest.fixture
def receiver(aws: str, queue_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., ModuleType]:
    """Create the inbound bearer secret in moto and cold-start the receiver with extra environment."""

    arn = boto3.client("secretsmanager").create_secret(
        Name="inbound-bearer", SecretString=json.dumps(BEARER_SECRET)
    )["ARN"]

    def start(**env: str) -> ModuleType:
        monkeypatch.setenv("INBOUND_AUTH_TYPE", "BEARER_TOKEN")
        monkeypatch.setenv("INBOUND_SECRET_ID", arn)
        monkeypatch.setenv("WORK_QUEUE_URL", queue_url)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return load_function("receiver")

    return start


@pytest.fixture
def summaries(service_logs: io.StringIO) -> io.StringIO:
    """Where the templates' summaries go when handlers run inline."""
    return service_logs


def summarised_triggers(logs: io.StringIO) -> set[str]:
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
    return {line["summary"]["trigger_id"] for line in lines if "summary" in line}


def queued_strings(queue_url: str) -> set[str]:
    """Every string value in the messages waiting in the work queue."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            found.add(node)

    sqs = boto3.client("sqs")
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            walk(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def invoke(module: ModuleType, event: dict[str, Any]) -> tuple[int, Any]:
    response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_generated_events_match_the_catalogue() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_events.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_fire_and_forget_trigger_has_an_event_with_its_example() -> None:
    for trigger_id in FIRE_AND_FORGET:
        event = load_event(f"api/{trigger_id.removeprefix('idn:')}.json")
        assert event["pathParameters"] == {"triggerId": trigger_id}
        example = trigger_document(trigger_id).get("exampleInput")
        assert example is None or json.loads(event["body"]) == example


def test_fire_and_forget_deliveries_are_acknowledged_and_handled_or_queued(
    receiver: Callable[..., ModuleType], queue_url: str, summaries: io.StringIO
) -> None:
    # One cold start for all of them: each delivery imports only its own handler and model.
    module = receiver()
    answers = {
        trigger_id: invoke(module, load_event(f"api/{trigger_id.removeprefix('idn:')}.json"))
        for trigger_id in FIRE_AND_FORGET
    }
    assert answers == dict.fromkeys(FIRE_AND_FORGET, (200, {}))
    taken_care_of = summarised_triggers(summaries) | queued_strings(queue_url)
    assert set(FIRE_AND_FORGET) - taken_care_of == set()


@pytest.mark.parametrize(
    ("trigger_id", "event_file", "env"),
    [
        (PRE, "api/pre-approval.sync.bearer.json", {}),
        (PRE, "api/pre-approval.sync.bearer.json", {"PRODUCT_TEST_DENIED_ITEMS": "Engineering Access"}),
        (DYN, "api/dynamic-approver.sync.bearer.json", {}),
        (
            DYN,
            "api/dynamic-approver.sync.bearer.json",
            {
                "PRODUCT_TEST_APPROVER_RULES": '{"*": {"id": "g-1", "name": "Owners", "type": "GOVERNANCE_GROUP"}}'
            },
        ),
    ],
)
def test_request_response_answers_validate_against_the_output_schema(
    receiver: Callable[..., ModuleType], trigger_id: str, event_file: str, env: dict[str, str]
) -> None:
    status, body = invoke(receiver(**env), load_event(event_file))
    assert status == 200
    if body == {"id": "", "name": "", "type": ""}:
        # the dynamic approver's documented "no extra approver" (outputSchemaWebhookVariant), which the
        # v1 schema's enum does not list
        assert trigger_id == "idn:access-request-dynamic-approver"
        return
    jsonschema.validate(body, trigger_document(trigger_id)["outputSchema"])


def test_a_configured_trigger_unknown_to_the_catalogue_is_served_by_its_generic_handler(
    receiver: Callable[..., ModuleType], queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a handler for an id SailPoint added after this catalogue, and a delivery for it
    monkeypatch.setitem(HANDLER_EXCEPTIONS, NEW_TRIGGER, __name__)  # a module outside the package
    event = json.loads((EVENTS / "api" / "identity-created.json").read_text(encoding="utf-8"))
    event.update(path=f"/triggers/{NEW_TRIGGER}", pathParameters={"triggerId": NEW_TRIGGER})
    event["body"] = json.dumps({"whatever": {"SailPoint": ["sends"]}})
    # When the id is not enabled by EXTRA_TRIGGERS, then the receiver does not know it
    assert invoke(receiver(), event)[0] == 404
    # When it is, then any JSON object is acknowledged and reaches the handler (or the queue) as sent
    received.clear()
    assert invoke(receiver(EXTRA_TRIGGERS=f"{NEW_TRIGGER}=FIRE_AND_FORGET"), event) == (200, {})
    assert received == [{"whatever": {"SailPoint": ["sends"]}}] or "sends" in queued_strings(queue_url)
