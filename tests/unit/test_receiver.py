"""The receiver's decisions for every kind of input, with an in-memory credential."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from idn_triggers.auth import AuthType, InboundAuthenticator, InboundSecret
from idn_triggers.handlers import HandlerRegistry, trigger_handler
from idn_triggers.models.access_request import AccessRequestPreApproval, PreApprovalDecision
from idn_triggers.receiver import Receiver
from idn_triggers.settings import ReceiverSettings
from tests.support import trigger_document
from trigger_handlers import HANDLER_MODULES

PRE = "idn:access-request-pre-approval"
DYN = "idn:access-request-dynamic-approver"
AUTH = {"Authorization": "Bearer token-1"}
EXAMPLE = trigger_document(PRE)["exampleInput"]


@trigger_handler("test:raises")
def raises(event: AccessRequestPreApproval) -> PreApprovalDecision:
    raise RuntimeError("boom with PII john@example.com")


@trigger_handler("test:bad-output")
def bad_output(event: AccessRequestPreApproval) -> PreApprovalDecision:
    return PreApprovalDecision.model_construct(approved="maybe", comment="c", approver="a")


@trigger_handler("test:missing-output")
def missing_output(event: AccessRequestPreApproval) -> PreApprovalDecision:
    return None  # type: ignore[return-value]


def make_receiver(**env: str) -> Receiver:
    settings = ReceiverSettings.from_env(
        {
            "INBOUND_AUTH_TYPE": "BEARER_TOKEN",
            "INBOUND_SECRET_ID": "inbound",
            "EXTRA_TRIGGERS": "test:raises=REQUEST_RESPONSE,test:bad-output=REQUEST_RESPONSE,"
            "test:missing-output=REQUEST_RESPONSE",
            **env,
        }
    )
    secret = InboundSecret.model_validate({"bearerToken": "token-1"})
    modules = {
        **HANDLER_MODULES,
        "test:raises": __name__,
        "test:bad-output": __name__,
        "test:missing-output": __name__,
    }
    return Receiver(
        settings, InboundAuthenticator(AuthType.BEARER_TOKEN, lambda: secret), HandlerRegistry(modules)
    )


RECEIVER = make_receiver()


def post(trigger_id: str, body: Any, headers: dict[str, str] | None = AUTH, **kwargs: Any) -> Any:
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    return RECEIVER.receive(trigger_id, headers, text, **kwargs)


def test_sync_pre_approval_answers_200_with_a_decision() -> None:
    response = post(PRE, EXAMPLE)
    assert response.status_code == 200
    assert response.body == {
        "approved": True,
        "comment": "Passed pre-approval policy checks.",
        "approver": "sailpoint-event-triggers",
    }
    assert (response.trigger_id, response.mode, response.outcome) == (PRE, "SYNC", "answered")


def test_sync_dynamic_approver_with_no_rule_answers_null() -> None:
    response = post(DYN, trigger_document(DYN)["exampleInput"])
    assert (response.status_code, response.body, response.json_body()) == (200, None, "null")


def test_explicit_sync_metadata_is_served() -> None:
    response = post(PRE, {**EXAMPLE, "_metadata": {"responseMode": "sync", "triggerId": PRE}})
    assert response.status_code == 200 and response.body["approved"] is True


def test_base64_body_is_decoded() -> None:
    encoded = base64.b64encode(json.dumps(EXAMPLE).encode()).decode()
    assert post(PRE, encoded, is_base64=True).status_code == 200


@pytest.mark.parametrize("headers", [None, {"Authorization": "Bearer wrong"}])
def test_wrong_or_missing_credential_is_401_before_anything_else(headers: dict[str, str] | None) -> None:
    response = post("idn:no-such-trigger", "not json", headers)
    assert (response.status_code, response.body) == (401, {"message": "authentication required"})
    assert response.trigger_id == "unknown"


@pytest.mark.parametrize("trigger_id", ["idn:no-such-trigger", "../../etc/passwd", ""])
def test_unknown_trigger_is_404(trigger_id: str) -> None:
    response = post(trigger_id, EXAMPLE)
    assert response.status_code == 404 and response.trigger_id == "unknown"


def test_disabled_trigger_is_404() -> None:
    receiver = make_receiver(ENABLED_TRIGGERS=DYN)
    assert receiver.receive(PRE, AUTH, json.dumps(EXAMPLE)).status_code == 404
    assert receiver.receive(DYN, AUTH, json.dumps(EXAMPLE)).status_code == 200


def test_catalogue_trigger_without_handler_is_404() -> None:
    assert post("idn:identity-created", {"identity": {}}).status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "empty"),
        ("", "empty"),
        ("{not json", "not valid JSON at line 1 column 2"),
        ("[1, 2]", "JSON object"),
        ('"text"', "JSON object"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_body_is_400(body: str | None, message: str) -> None:
    response = post(PRE, body)
    assert response.status_code == 400 and message in response.body["message"]


def test_invalid_utf8_is_400() -> None:
    encoded = base64.b64encode(b'{"a": "\xff"}').decode()
    response = post(PRE, encoded, is_base64=True)
    assert response.status_code == 400 and "UTF-8" in response.body["message"]


def test_payload_failing_the_model_names_fields_not_values() -> None:
    body = {**EXAMPLE, "requestedItems": [{"id": "SECRET-ITEM", "name": 42}], "accessRequestId": None}
    response = post(PRE, body)
    assert response.status_code == 400
    fields = {e["field"] for e in response.body["errors"]}
    assert {
        "accessRequestId",
        "requestedItems.0.name",
        "requestedItems.0.type",
        "requestedItems.0.operation",
    } <= fields
    assert "SECRET-ITEM" not in response.json_body() and "42" not in json.dumps(response.body["errors"])


def test_metadata_trigger_id_disagreeing_with_path_is_400() -> None:
    response = post(PRE, {**EXAMPLE, "_metadata": {"triggerId": DYN}})
    assert response.status_code == 400 and response.body["errors"][0]["field"] == "_metadata.triggerId"


@pytest.mark.parametrize("mode", ["async", "DYNAMIC"])
def test_async_and_dynamic_are_refused_clearly_not_treated_as_sync(mode: str) -> None:
    metadata = {
        "responseMode": mode,
        "callbackURL": "https://t.api.identitynow.com/trigger-invocations/v1/i-1/complete",
        "secret": "s",
    }
    response = post(PRE, {**EXAMPLE, "_metadata": metadata})
    assert response.status_code == 400 and mode.upper() in response.body["message"]
    assert response.invocation_id == "i-1"


def test_handler_raising_is_the_documented_500_without_details(caplog: pytest.LogCaptureFixture) -> None:
    response = post("test:raises", EXAMPLE)
    assert response.status_code == 500
    assert response.body == {"message": "the trigger handler failed; see the receiver's logs"}


@pytest.mark.parametrize("trigger_id", ["test:bad-output", "test:missing-output"])
def test_handler_output_failing_its_model_is_500(trigger_id: str) -> None:
    response = post(trigger_id, EXAMPLE)
    assert response.status_code == 500 and "invalid answer" in response.body["message"]
