"""The failure policy for request-response triggers: parsing it, the watchdog, and what the receiver
answers under each choice (handlers here are this test's own, never the shipped templates)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from idn_triggers.auth import AuthType, InboundAuthenticator, InboundSecret
from idn_triggers.errors import ConfigurationError
from idn_triggers.failure_policy import HandlerTimedOut, parse_failure_policies, run_with_deadline
from idn_triggers.handlers import HandlerRegistry, trigger_handler
from idn_triggers.models.access_request import AccessRequestPreApproval, PreApprovalDecision
from idn_triggers.receiver import Receiver
from idn_triggers.settings import ReceiverSettings
from tests.support import trigger_document

RAISES, LATE = "test:policy-raises", "test:policy-late"
FALLBACK = {"approved": False, "comment": "approval service unavailable", "approver": "policy"}
RELEASE = threading.Event()
EXAMPLE = trigger_document("idn:access-request-pre-approval")["exampleInput"]


@trigger_handler(RAISES)
def raises(event: AccessRequestPreApproval) -> PreApprovalDecision:
    raise RuntimeError("downstream approval service is down")


@trigger_handler(LATE)
def late(event: AccessRequestPreApproval) -> PreApprovalDecision:
    RELEASE.wait(12)  # "sleeps 12 s" unless the test releases it
    return PreApprovalDecision(approved=True, comment="late", approver="late")


def receiver(policies: dict[str, Any] | None = None) -> Receiver:
    settings = ReceiverSettings.from_env(
        {
            "INBOUND_AUTH_TYPE": "BEARER_TOKEN",
            "INBOUND_SECRET_ID": "inbound",
            "EXTRA_TRIGGERS": f"{RAISES}=REQUEST_RESPONSE,{LATE}=REQUEST_RESPONSE",
            "FAILURE_POLICIES": json.dumps(policies) if policies is not None else "",
            "HANDLER_ANSWER_SECONDS": "0.2",
        }
    )
    secret = InboundSecret.model_validate({"bearerToken": "t"})
    registry = HandlerRegistry("no_such_package", {RAISES: __name__, LATE: __name__})
    return Receiver(settings, InboundAuthenticator(AuthType.BEARER_TOKEN, lambda: secret), registry)


def post(target: Receiver, trigger_id: str) -> Any:
    return target.receive(trigger_id, {"Authorization": "Bearer t"}, json.dumps(EXAMPLE))


@pytest.fixture(autouse=True)
def release_late_handlers() -> Any:
    RELEASE.clear()
    yield
    RELEASE.set()


def test_policies_keep_fallbacks_and_drop_error() -> None:
    parsed = parse_failure_policies(json.dumps({RAISES: FALLBACK, LATE: "error"}))
    assert parsed == {RAISES: FALLBACK}
    assert parse_failure_policies("") == {}


@pytest.mark.parametrize("text", ["[1]", "not json", json.dumps({RAISES: 3})])
def test_a_malformed_policy_fails_the_cold_start_naming_the_variable(text: str) -> None:
    with pytest.raises(ConfigurationError, match="FAILURE_POLICIES"):
        ReceiverSettings.from_env({"INBOUND_AUTH_TYPE": "NO_AUTH", "FAILURE_POLICIES": text})


def test_the_watchdog_returns_results_and_reraises_errors_in_time() -> None:
    assert run_with_deadline(lambda: 42, 5) == 42
    with pytest.raises(KeyError):
        run_with_deadline(lambda: {}["missing"], 5)


def test_the_watchdog_stops_waiting_for_late_work() -> None:
    with pytest.raises(HandlerTimedOut):
        run_with_deadline(lambda: RELEASE.wait(12), 0.05)


def test_under_the_error_policy_a_raising_handler_is_the_documented_500() -> None:
    response = post(receiver(), RAISES)
    assert (response.status_code, response.outcome) == (500, "handler_failed")


def test_under_the_error_policy_a_late_handler_is_answered_500_at_the_deadline() -> None:
    response = post(receiver(), LATE)
    assert (response.status_code, response.outcome) == (500, "handler_late")
    assert "did not answer in time" in response.body["message"]


@pytest.mark.parametrize("trigger_id", [RAISES, LATE])
def test_with_a_fallback_sailpoint_receives_it(trigger_id: str) -> None:
    response = post(receiver({trigger_id: FALLBACK}), trigger_id)
    assert (response.status_code, response.body, response.outcome) == (200, FALLBACK, "fallback")


def test_an_invalid_fallback_answers_the_error_rather_than_garbage() -> None:
    response = post(receiver({RAISES: {"approved": "perhaps"}}), RAISES)
    assert (response.status_code, response.outcome) == (500, "handler_failed")
