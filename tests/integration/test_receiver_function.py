"""The receiver Lambda entry point on every `events/` file, with Secrets Manager served by moto over HTTP."""

from __future__ import annotations

import base64
import functools
import io
import json
import logging
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.product_handlers.shared import denied_comment
from tests.support import FakeLambdaContext, load_event, load_function

BEARER_SECRET = {"bearerToken": "local-dev-bearer-token"}
BASIC_SECRET = {"userName": "sailpoint", "password": "local-dev-password"}


@pytest.fixture
def receiver(aws: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., ModuleType]:
    """Create the inbound secret in moto and cold-start the receiver with the given auth type."""

    def start(
        auth_type: str = "BEARER_TOKEN", secret: dict[str, Any] | None = None, **env: str
    ) -> ModuleType:
        client = boto3.client("secretsmanager")
        arn = client.create_secret(
            Name=f"inbound-{auth_type}", SecretString=json.dumps(secret or BEARER_SECRET)
        )["ARN"]
        monkeypatch.setenv("INBOUND_AUTH_TYPE", auth_type)
        monkeypatch.setenv("INBOUND_SECRET_ID", arn)
        monkeypatch.setenv("INBOUND_SECRET_MAX_AGE", "0")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return load_function("receiver")

    return start


def invoke(module: ModuleType, event: dict[str, Any]) -> tuple[int, Any]:
    response = module.lambda_handler(event, FakeLambdaContext())
    headers = response.get("multiValueHeaders") or {k: [v] for k, v in response.get("headers", {}).items()}
    assert headers["Content-Type"] == ["application/json"]
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(
    ("event_file", "status"),
    [
        ("api/pre-approval.sync.bearer.json", 200),
        ("api/dynamic-approver.sync.bearer.json", 200),
        ("api/pre-approval.wrong-credential.json", 401),
        ("api/dynamic-approver.wrong-credential.json", 401),
        ("api/pre-approval.no-credential.json", 401),
        ("api/dynamic-approver.no-credential.json", 401),
        ("api/pre-approval.malformed-json.json", 400),
        ("api/dynamic-approver.malformed-json.json", 400),
        ("api/unknown-trigger.json", 404),
        ("api/pre-approval.sync.basic.json", 401),  # a Basic header on a bearer receiver
    ],
)
def test_bearer_receiver_answers_each_event(
    receiver: Callable[..., ModuleType], event_file: str, status: int
) -> None:
    code, body = invoke(receiver(), load_event(event_file))
    assert code == status
    if status != 200:
        assert set(body) <= {"message", "errors"}


def test_sync_pre_approval_answer_is_the_decision(receiver: Callable[..., ModuleType]) -> None:
    module = receiver(PRODUCT_TEST_DENIED_ITEMS="Engineering Access", PRODUCT_TEST_APPROVER="jane.doe")
    code, body = invoke(module, load_event("api/pre-approval.sync.bearer.json"))
    assert code == 200
    assert body == {
        "approved": False,
        "approver": "jane.doe",
        "comment": denied_comment("Engineering Access"),
    }


@pytest.mark.parametrize(
    ("event_file", "status"),
    [
        ("api/pre-approval.sync.basic.json", 200),
        ("api/dynamic-approver.sync.basic.json", 200),
        ("api/pre-approval.sync.bearer.json", 401),
    ],
)
def test_basic_receiver(receiver: Callable[..., ModuleType], event_file: str, status: int) -> None:
    code, _ = invoke(receiver("BASIC_AUTH", BASIC_SECRET), load_event(event_file))
    assert code == status


def test_previous_credential_is_accepted_while_the_secret_holds_it(
    receiver: Callable[..., ModuleType],
) -> None:
    secret = {"bearerToken": "rotated-token", "previous": BEARER_SECRET}
    code, _ = invoke(receiver(secret=secret), load_event("api/pre-approval.sync.bearer.json"))
    assert code == 200


def test_a_rotated_secret_is_picked_up_after_the_cache_expires(receiver: Callable[..., ModuleType]) -> None:
    module = receiver()
    event = load_event("api/pre-approval.sync.bearer.json")
    assert invoke(module, event)[0] == 200
    boto3.client("secretsmanager").put_secret_value(
        SecretId="inbound-BEARER_TOKEN", SecretString=json.dumps({"bearerToken": "brand-new"})
    )
    assert invoke(module, event)[0] == 401


def test_unreadable_secret_is_503_not_a_crash(
    receiver: Callable[..., ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INBOUND_AUTH_TYPE", "BEARER_TOKEN")
    monkeypatch.setenv("INBOUND_SECRET_ID", "does-not-exist")
    module = load_function("receiver")
    code, body = invoke(module, load_event("api/pre-approval.sync.bearer.json"))
    assert code == 503 and "credentials" in body["message"]


def test_malformed_secret_is_503_naming_nothing_to_the_caller(receiver: Callable[..., ModuleType]) -> None:
    module = receiver(secret={"token": "wrong-key"})
    code, body = invoke(module, load_event("api/pre-approval.sync.bearer.json"))
    assert (code, body) == (503, {"message": "receiver is misconfigured; see its logs"})


def test_missing_configuration_fails_the_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INBOUND_AUTH_TYPE", raising=False)
    with pytest.raises(Exception, match="INBOUND_AUTH_TYPE"):
        load_function("receiver")


def test_other_methods_and_paths_are_4xx(receiver: Callable[..., ModuleType]) -> None:
    module = receiver()
    event = load_event("api/pre-approval.sync.bearer.json")
    for changes in ({"httpMethod": "GET"}, {"path": "/elsewhere", "resource": "/elsewhere"}):
        response = module.lambda_handler({**event, **changes}, FakeLambdaContext())
        assert 400 <= response["statusCode"] < 500


def test_url_encoded_trigger_id_is_routed(receiver: Callable[..., ModuleType]) -> None:
    event = load_event("api/pre-approval.sync.bearer.json")
    event["path"] = "/triggers/idn%3Aaccess-request-pre-approval"
    assert invoke(receiver(), event)[0] == 200


def test_logs_carry_no_credentials_or_payload_values(
    receiver: Callable[..., ModuleType], captured_logs: io.StringIO, request: pytest.FixtureRequest
) -> None:
    # Given a cold receiver, then every logger at DEBUG (root too, which botocore's loggers inherit)
    module = receiver()
    loggers = [logging.getLogger(name) for name in ("", "botocore", os.environ["POWERTOOLS_SERVICE_NAME"])]
    for logger in loggers:
        request.addfinalizer(functools.partial(logger.setLevel, logger.level))
        logger.setLevel(logging.DEBUG)  # setLevel, not setattr: it also clears logging's level cache
    for name in (
        "api/pre-approval.sync.bearer.json",
        "api/pre-approval.wrong-credential.json",
        "api/pre-approval.malformed-json.json",
    ):
        invoke(module, load_event(name))
    text = captured_logs.getvalue()
    assert "trigger delivery answered" in text
    for secret in ("local-dev-bearer-token", "not-the-token", "William Wilson"):
        assert secret not in text


@pytest.mark.parametrize(
    "changes",
    [
        {"httpMethod": "GET"},
        {"httpMethod": "PUT"},
        {"path": "/elsewhere", "resource": "/elsewhere", "pathParameters": None},
        {"path": "/triggers/", "pathParameters": None},
        {"path": "/triggers/idn:access-request-pre-approval/x"},
        {"resource": "/triggers/{proxy+}"},
    ],
)
def test_other_methods_and_paths_get_the_rest_resolvers_404(
    receiver: Callable[..., ModuleType], changes: dict[str, Any]
) -> None:
    # What Powertools' REST resolver answered before the receiver read the event itself
    event = {**load_event("api/pre-approval.sync.bearer.json"), **changes}
    assert invoke(receiver(), event) == (404, {"statusCode": 404, "message": "Not found"})


def test_the_method_is_matched_in_any_case(receiver: Callable[..., ModuleType]) -> None:
    event = {**load_event("api/pre-approval.sync.bearer.json"), "httpMethod": "post"}
    assert invoke(receiver(), event)[0] == 200


def test_a_url_encoded_path_parameter_is_decoded(receiver: Callable[..., ModuleType]) -> None:
    event = load_event("api/pre-approval.sync.bearer.json")
    event["pathParameters"] = {"triggerId": "idn%3Aaccess-request-pre-approval"}
    event["path"] = "/triggers/idn%3Aaccess-request-pre-approval"
    assert invoke(receiver(), event)[0] == 200


def test_a_base64_body_and_lower_case_headers_are_read_as_api_gateway_sends_them(
    receiver: Callable[..., ModuleType],
) -> None:
    event = load_event("api/pre-approval.sync.bearer.json")
    headers = {key.lower(): value for key, value in event["headers"].items()}
    body = base64.b64encode(event["body"].encode()).decode()
    event.update(headers=headers, body=body, isBase64Encoded=True)
    module = receiver()
    assert invoke(module, event)[0] == 200
    event["headers"] = {k: v for k, v in headers.items() if k != "authorization"}
    assert invoke(module, event)[0] == 401
