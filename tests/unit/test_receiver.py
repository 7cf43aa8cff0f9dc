"""The receiver's decisions for every kind of input, with an in-memory credential."""

from __future__ import annotations

import base64
import copy
import json
from datetime import timedelta
from typing import Any

import pytest

from idn_triggers.auth import AuthType, InboundAuthenticator, InboundSecret
from idn_triggers.handlers import DEFER, Deferred, HandlerRegistry, trigger_handler
from idn_triggers.models.access_request import AccessRequestPreApproval, PreApprovalDecision
from idn_triggers.queue import QueuedInvocation
from idn_triggers.receiver import Receiver
from idn_triggers.settings import ReceiverSettings
from tests.product_handlers import HANDLER_EXCEPTIONS, PACKAGE
from tests.product_handlers.shared import APPROVED, APPROVER
from tests.support import trigger_document
from tests.unit.conftest import HandlerPackage

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


@trigger_handler("test:defers")
def defers(event: AccessRequestPreApproval) -> PreApprovalDecision | Deferred:
    return DEFER


@trigger_handler("test:missing-output")
def missing_output(event: AccessRequestPreApproval) -> PreApprovalDecision:
    return None  # type: ignore[return-value]


class FakeQueue:
    """Stands in for SQS at the receiver's port: records what would be sent, or fails."""

    def __init__(self) -> None:
        self.sent: list[QueuedInvocation] = []
        self.fail = False

    def send(self, message: QueuedInvocation) -> str:
        if self.fail:
            raise ConnectionError("queue down")
        self.sent.append(message)
        return f"m-{len(self.sent)}"


TENANT = "https://acme.api.identitynow.com"
CALLBACK = f"{TENANT}/trigger-invocations/v1/inv-1/complete"


RECEIVER_ENV = {"INBOUND_AUTH_TYPE": "BEARER_TOKEN", "INBOUND_SECRET_ID": "inbound", "TENANT_API_URL": TENANT}


def make_receiver(queue: FakeQueue | None = None, **env: str) -> Receiver:
    settings = ReceiverSettings.from_env(
        {
            **RECEIVER_ENV,
            "EXTRA_TRIGGERS": "test:raises=REQUEST_RESPONSE,test:bad-output=REQUEST_RESPONSE,"
            "test:missing-output=REQUEST_RESPONSE,test:defers=REQUEST_RESPONSE",
            **env,
        }
    )
    secret = InboundSecret.model_validate({"bearerToken": "token-1"})
    exceptions = {
        **HANDLER_EXCEPTIONS,
        "test:raises": __name__,
        "test:bad-output": __name__,
        "test:missing-output": __name__,
        "test:defers": __name__,
    }
    authenticator = InboundAuthenticator(AuthType.BEARER_TOKEN, lambda: secret)
    return Receiver(settings, authenticator, HandlerRegistry(PACKAGE, exceptions), queue)


QUEUE = FakeQueue()
RECEIVER = make_receiver(QUEUE)


@pytest.fixture(autouse=True)
def empty_queue() -> None:
    QUEUE.sent.clear()
    QUEUE.fail = False


def post(trigger_id: str, body: Any, headers: dict[str, str] | None = AUTH, **kwargs: Any) -> Any:
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    return RECEIVER.receive(trigger_id, headers, text, **kwargs)


def test_sync_pre_approval_answers_200_with_a_decision() -> None:
    response = post(PRE, EXAMPLE)
    assert response.status_code == 200
    assert response.body == {
        "approved": True,
        "comment": APPROVED,
        "approver": APPROVER,
    }
    assert (response.trigger_id, response.mode, response.outcome) == (PRE, "SYNC", "answered")


def test_sync_dynamic_approver_with_no_rule_answers_the_documented_empty_object() -> None:
    response = post(DYN, trigger_document(DYN)["exampleInput"])
    assert (response.status_code, response.body) == (200, {"id": "", "name": "", "type": ""})


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
    receiver = make_receiver(QUEUE, ENABLED_TRIGGERS=DYN)
    assert receiver.receive(PRE, AUTH, json.dumps(EXAMPLE)).status_code == 404
    assert receiver.receive(DYN, AUTH, json.dumps(EXAMPLE)).status_code == 200


def test_catalogue_trigger_without_handler_is_404(handler_package: HandlerPackage) -> None:
    # A handlers package with no identity_created module
    registry = HandlerRegistry(handler_package.name)
    receiver = Receiver(RECEIVER.settings, RECEIVER.authenticator, registry, QUEUE)
    assert receiver.receive("idn:identity-created", AUTH, '{"identity": {}}').status_code == 404


def test_a_new_handler_module_is_served_once_its_trigger_is_configured(
    handler_package: HandlerPackage,
) -> None:
    # Given a user's module for an id SailPoint added after this catalogue, named after it by the rule
    handler_package.add(
        "brand_new_question",
        """
        from idn_triggers.handlers import trigger_handler
        from idn_triggers.models.generic import GenericTriggerEvent, GenericTriggerOutput


        @trigger_handler("idn:brand-new-question")
        def answer(event: GenericTriggerEvent) -> GenericTriggerOutput:
            return GenericTriggerOutput.model_validate({"echo": event.payload})
        """,
    )
    registry = HandlerRegistry(handler_package.name)
    body = json.dumps({"question": 42})
    # When the id is not configured, the receiver does not know it
    receiver = Receiver(RECEIVER.settings, RECEIVER.authenticator, registry, QUEUE)
    assert receiver.receive("idn:brand-new-question", AUTH, body).status_code == 404
    # When EXTRA_TRIGGERS names it, the module is found by the rule and answers
    settings = ReceiverSettings.from_env(
        {**RECEIVER_ENV, "EXTRA_TRIGGERS": "idn:brand-new-question=REQUEST_RESPONSE"}
    )
    receiver = Receiver(settings, RECEIVER.authenticator, registry, QUEUE)
    response = receiver.receive("idn:brand-new-question", AUTH, body)
    assert (response.status_code, response.body) == (200, {"echo": {"question": 42}})


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


HUGE_INT = "9" * 5000  # past Python's int-conversion limit: ValueError, a 502 before issue 27


def with_field(raw_value: str) -> str:
    """EXAMPLE with one more field whose JSON text is `raw_value`, as sent (not re-encoded)."""
    return json.dumps(EXAMPLE)[:-1] + f', "extra": {raw_value}}}'


@pytest.mark.parametrize(
    ("raw_value", "message"),
    [
        (HUGE_INT, "integer longer than 4300 digits"),
        ("-" + HUGE_INT, "integer longer than 4300 digits"),
        ("NaN", "NaN or Infinity"),
        ("Infinity", "NaN or Infinity"),
        ("-Infinity", "NaN or Infinity"),
        ("1e999", "too large for a 64-bit float"),
        ("-1e999", "too large for a 64-bit float"),
    ],
    ids=["huge-int", "huge-negative-int", "NaN", "Infinity", "-Infinity", "1e999", "-1e999"],
)
@pytest.mark.parametrize("base64_encoded", [False, True], ids=["text", "base64"])
def test_numbers_json_cannot_carry_are_400_naming_the_problem(
    raw_value: str, message: str, base64_encoded: bool
) -> None:
    body = with_field(raw_value)
    if base64_encoded:
        body = base64.b64encode(body.encode()).decode()
    response = post(PRE, body, is_base64=base64_encoded)
    assert response.status_code == 400 and message in response.body["message"]


def test_a_long_integer_within_the_limit_is_kept() -> None:
    assert post(PRE, with_field("9" * 4300)).status_code == 200


def test_a_duplicate_key_is_400_whichever_level_it_is_at() -> None:
    top = json.dumps(EXAMPLE)[:-1] + ', "requestedBy": {"id": "x", "name": "y", "type": "IDENTITY"}}'
    nested = with_field('{"k": 1, "k": 2}')
    for body in (top, nested):
        response = post(PRE, body)
        assert response.status_code == 400 and "duplicate key" in response.body["message"]


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


def deferred(mode: str, **overrides: str) -> dict[str, Any]:
    metadata = {
        "responseMode": mode,
        "callbackURL": CALLBACK,
        "secret": "cb-secret",
        "triggerId": PRE,
        "triggerType": "requestResponse",
        **overrides,
    }
    return {**EXAMPLE, "_metadata": metadata}


def test_async_is_queued_then_acknowledged_with_an_empty_object() -> None:
    response = post(PRE, deferred("async"))
    assert (response.status_code, response.body, response.outcome) == (200, {}, "queued")
    [message] = QUEUE.sent
    assert (message.trigger_id, message.mode, message.invocation_id) == (PRE, "ASYNC", "inv-1")
    assert message.callback_url == CALLBACK and message.secret is not None
    assert message.secret.get_secret_value() == "cb-secret"
    assert message.deadline is not None and message.deadline - message.received_at == timedelta(hours=1)
    assert "_metadata" not in message.payload and message.payload == EXAMPLE


def test_the_queue_message_carries_the_secret_but_never_prints_it() -> None:
    post(PRE, deferred("ASYNC"))
    [message] = QUEUE.sent
    assert "cb-secret" not in repr(message) and "cb-secret" not in str(message.log_fields())
    assert json.loads(message.model_dump_json())["secret"] == "cb-secret"  # what SQS stores, encrypted


def test_dynamic_answered_now_is_200_with_the_answer_and_nothing_queued() -> None:
    response = post(PRE, deferred("dynamic"))
    assert response.status_code == 200 and response.body["approved"] is True
    assert QUEUE.sent == []


def test_dynamic_deferred_is_queued_and_answered_202() -> None:
    metadata = {"responseMode": "dynamic", "callbackURL": CALLBACK, "secret": "s"}
    response = post("test:defers", {**EXAMPLE, "_metadata": metadata})
    assert (response.status_code, response.body, response.outcome) == (202, {}, "deferred")
    assert [m.mode for m in QUEUE.sent] == ["DYNAMIC"]


def test_sync_handler_that_defers_is_an_invalid_answer() -> None:
    response = post("test:defers", EXAMPLE)
    assert response.status_code == 500 and QUEUE.sent == []


def test_fire_and_forget_is_queued_with_a_stable_id() -> None:
    payload = copy.deepcopy(trigger_document("idn:identity-created")["exampleInput"])
    payload["identity"]["id"] = "a-real-identity"  # the published sample gets a key per delivery
    first = post("idn:identity-created", payload)
    post("idn:identity-created", payload)
    assert (first.status_code, first.body, first.mode) == (200, {}, "FIRE_AND_FORGET")
    assert QUEUE.sent[0].idempotency_key == QUEUE.sent[1].idempotency_key
    assert QUEUE.sent[0].callback_url is None and QUEUE.sent[0].deadline is None


def test_queue_failure_is_503_never_an_acknowledgement() -> None:
    QUEUE.fail = True
    response = post(PRE, deferred("async"))
    assert response.status_code == 503 and "not accepted" in response.body["message"]


def test_invalid_payload_is_refused_before_anything_is_queued() -> None:
    body = deferred("async")
    del body["requestedItems"]
    assert post(PRE, body).status_code == 400 and QUEUE.sent == []


@pytest.mark.parametrize(
    "url",
    [
        "http://acme.api.identitynow.com/trigger-invocations/v1/i/complete",
        "https://evil.example.com/trigger-invocations/v1/i/complete",
        f"{TENANT}/somewhere/else",
    ],
)
def test_callback_that_is_not_the_tenants_https_completion_url_is_400(url: str) -> None:
    response = post(PRE, deferred("async", callbackURL=url))
    assert response.status_code == 400 and response.body["errors"][0]["field"].startswith("_metadata")
    assert QUEUE.sent == []


def test_async_without_a_queue_is_refused_clearly() -> None:
    receiver = make_receiver(None)
    response = receiver.receive(PRE, AUTH, json.dumps(deferred("async")))
    assert response.status_code == 400 and "SYNC" in response.body["message"]


def test_payload_too_large_to_queue_is_413() -> None:
    body = deferred("async")
    body["requestedItems"] = [{**EXAMPLE["requestedItems"][0], "comment": "x" * 1000} for _ in range(300)]
    assert post(PRE, body).status_code == 413 and QUEUE.sent == []


def test_handler_raising_is_the_documented_500_without_details(caplog: pytest.LogCaptureFixture) -> None:
    response = post("test:raises", EXAMPLE)
    assert response.status_code == 500
    assert response.body == {"message": "the trigger handler failed; see the receiver's logs"}


@pytest.mark.parametrize("trigger_id", ["test:bad-output", "test:missing-output"])
def test_handler_output_failing_its_model_is_500(trigger_id: str) -> None:
    response = post(trigger_id, EXAMPLE)
    assert response.status_code == 500 and "invalid answer" in response.body["message"]


# -- the delivery archive (what the receiver answers itself) ------------------------------------------
class RecordingArchive:
    """Stands in for the S3 archive at the receiver's port; `fail` makes it raise (a broken recorder)."""

    def __init__(self, fail: bool = False) -> None:
        self.records: list[Any] = []
        self.fail = fail

    def record(self, record: Any) -> bool:
        if self.fail:
            raise ConnectionError("archive down")
        self.records.append(record)
        return True


def archiving(archive: RecordingArchive) -> Receiver:
    receiver = make_receiver(QUEUE)
    receiver.archive = archive
    return receiver


def test_a_sync_answer_is_archived_with_the_answer_sailpoint_got() -> None:
    archive = RecordingArchive()
    response = archiving(archive).receive(PRE, AUTH, json.dumps(EXAMPLE))
    [record] = archive.records
    assert (record.status_code, record.outcome, record.mode) == (200, "answered", "SYNC")
    assert record.answer == response.body and record.payload == EXAMPLE
    assert record.received_at <= record.finished_at


def test_a_failing_handler_is_archived_with_its_500_so_it_can_be_replayed() -> None:
    archive = RecordingArchive()
    response = archiving(archive).receive("test:raises", AUTH, json.dumps(EXAMPLE))
    assert response.status_code == 500
    [record] = archive.records
    assert (record.status_code, record.outcome, record.answer) == (500, response.outcome, None)


def test_refused_and_queued_deliveries_are_not_archived_by_the_receiver() -> None:
    archive = RecordingArchive()
    receiver = archiving(archive)
    refused = [
        receiver.receive(PRE, {"Authorization": "Bearer wrong"}, json.dumps(EXAMPLE)),
        receiver.receive(PRE, AUTH, "{nope"),
        receiver.receive(PRE, AUTH, json.dumps({"accessRequestId": 1})),
    ]
    queued = receiver.receive(PRE, AUTH, json.dumps(deferred("async")))
    assert [r.status_code for r in refused] == [401, 400, 400] and queued.status_code == 200
    assert archive.records == []


def test_a_recorder_that_raises_changes_no_answer() -> None:
    expected = make_receiver(QUEUE).receive(PRE, AUTH, json.dumps(EXAMPLE))
    answered = archiving(RecordingArchive(fail=True)).receive(PRE, AUTH, json.dumps(EXAMPLE))
    assert (answered.status_code, answered.body) == (expected.status_code, expected.body)


def test_a_mapping_key_in_an_error_location_is_data_and_never_echoed() -> None:
    """Found by `make fuzz` (issue 27): `searchResults` is keyed by data; its keys were echoed."""
    trigger = "idn:saved-search-complete"
    payload = copy.deepcopy(trigger_document(trigger)["exampleInput"])
    payload["searchResults"] = {"Jane-Doe-Private": "not an object"}
    response = post(trigger, payload)
    assert response.status_code == 400
    assert "Jane-Doe-Private" not in response.json_body()
    assert {
        "field": "searchResults.*",
        "problem": "Input should be a valid dictionary or instance of SavedSearchResults",
    } in response.body["errors"]
