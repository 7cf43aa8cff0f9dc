"""SSRF via `_metadata.callbackURL`: a forged URL is refused by the receiver (400, logged) and by the
worker (dead-lettered with the reason, never called), however it is disguised.

The worker POSTs the invocation's secret and a tenant access token to the callback URL, so only the
configured tenant's own completion endpoint may be called. The forgeries below include parser
differentials: `https://evil.example\\@tenant/...` is the tenant's host to `urllib.parse.urlsplit`
but `evil.example` to requests/urllib3, which would send the secret there.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from idn_triggers.auth import AuthType, InboundAuthenticator, InboundSecret
from idn_triggers.callback import CallbackOutcome, CallbackResult
from idn_triggers.envelope import callback_url_problem, split_envelope
from idn_triggers.errors import InvalidPayload
from idn_triggers.handlers import HandlerRegistry
from idn_triggers.queue import QueuedInvocation, queued_invocation
from idn_triggers.receiver import Receiver
from idn_triggers.settings import ReceiverSettings, WorkerSettings
from idn_triggers.worker import Worker
from tests.product_handlers import HANDLER_EXCEPTIONS, PACKAGE
from tests.support import trigger_document

TENANT = "https://acme.api.identitynow.com"
PRE = "idn:access-request-pre-approval"
GOOD = f"{TENANT}/trigger-invocations/v1/0f5b9f6e-1a2b/complete"
SECRET = "callback-secret-do-not-send-elsewhere"
BEARER = "outbound-test-bearer"

FORGED = {
    "other host": "https://evil.example/trigger-invocations/v1/abc/complete",
    "http": "http://acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "not a completion path": "https://acme.api.identitynow.com/trigger-subscriptions/v1/abc",
    "completion path in the query": "https://acme.api.identitynow.com/oauth/token?/trigger-invocations/a/complete",
    "userinfo naming the tenant": "https://acme.api.identitynow.com@evil.example/trigger-invocations/v1/abc/complete",
    "userinfo with port": "https://acme.api.identitynow.com:443@evil.example/trigger-invocations/v1/abc/complete",
    "userinfo on the tenant": "https://user:pass@acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "backslash before @": "https://evil.example\\@acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "backslash as separator": "https://evil.example\\.acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "fragment before @": "https://evil.example#@acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "query before @": "https://evil.example?@acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "tab in userinfo": "https://evil.example\t@acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "encoded @": "https://evil.example%40acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "port-shaped host": "https://evil.example:acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "trailing dot": "https://acme.api.identitynow.com./trigger-invocations/v1/abc/complete",
    "explicit port": "https://acme.api.identitynow.com:8443/trigger-invocations/v1/abc/complete",
    "explicit default port": "https://acme.api.identitynow.com:443/trigger-invocations/v1/abc/complete",
    "empty port": "https://acme.api.identitynow.com:/trigger-invocations/v1/abc/complete",
    "suffix host": "https://acme.api.identitynow.com.evil.example/trigger-invocations/v1/abc/complete",
    "prefix host": "https://evilacme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "IDN homograph": "https://acme.api.identityn\u043ew.com/trigger-invocations/v1/abc/complete",
    "punycode homograph": "https://acme.api.xn--identitynw-9ob.com/trigger-invocations/v1/abc/complete",
    "fullwidth letters": "https://\uff41cme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "IP literal": "https://169.254.169.254/trigger-invocations/v1/abc/complete",
    "IPv6 literal": "https://[::1]/trigger-invocations/v1/abc/complete",
    "newline in host": "https://acme.api.identitynow.com\n.evil.example/trigger-invocations/v1/abc/complete",
    "NUL in host": "https://acme.api.identitynow.com\x00.evil.example/trigger-invocations/v1/abc/complete",
    "leading space": " https://evil.example/trigger-invocations/v1/abc/complete",
    "scheme-relative": "//acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "missing slashes": "https:acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "file scheme": "file:///trigger-invocations/v1/abc/complete",
    "gopher scheme": "gopher://acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    # issue 27 item 1: requests removes dot segments, so these reached /v3/v2024/anything/complete
    "dot segments to another endpoint": f"{TENANT}/v3/sources/X/schemas/../../../v2024/anything"
    "/trigger-invocations/../complete?x=1",
    "dot-segment invocation id": f"{TENANT}/trigger-invocations/../complete",
    "single-dot invocation id": f"{TENANT}/beta/trigger-invocations/./complete",
    "encoded dot segments": f"{TENANT}/trigger-invocations/%2e%2e/complete",
    "encoded slash in the id": f"{TENANT}/trigger-invocations/a%2F..%2F/complete",
    "completion under another path": f"{TENANT}/v3/sources/X/trigger-invocations/v1/abc/complete",
    "dot segment before the prefix": f"{TENANT}/../beta/trigger-invocations/abc/complete",
    # issue 27 item 9: `$` matches before a final newline
    "trailing newline": f"{GOOD}\n",
    "trailing newline in the id": f"{TENANT}/trigger-invocations/v1/abc\n/complete",
}
ACCEPTED = {
    "v1 path": GOOD,
    "beta path": f"{TENANT}/beta/trigger-invocations/abc/complete",
    "trailing slash": f"{TENANT}/trigger-invocations/abc/complete/",
    "upper-case host and scheme": "HTTPS://ACME.API.IDENTITYNOW.COM/trigger-invocations/abc/complete",
    "year-versioned path": f"{TENANT}/v2025/trigger-invocations/abc/complete",
    "dots inside the id": f"{TENANT}/trigger-invocations/v1/a..b/complete",
}


@pytest.mark.parametrize("url", FORGED.values(), ids=FORGED.keys())
def test_a_forged_callback_url_has_a_problem(url: str) -> None:
    assert callback_url_problem(url, TENANT, allow_http=False)


@pytest.mark.parametrize("url", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_the_tenants_completion_urls_are_accepted(url: str) -> None:
    assert callback_url_problem(url, TENANT, allow_http=False) is None


def test_http_is_accepted_only_when_allowed_and_only_on_the_tenant() -> None:
    local = "http://127.0.0.1:8400"
    assert callback_url_problem(f"{local}/trigger-invocations/v1/a/complete", local, allow_http=True) is None
    assert callback_url_problem(f"{local}/trigger-invocations/v1/a/complete", local, allow_http=False)
    assert callback_url_problem(
        "http://127.0.0.1:8401/trigger-invocations/v1/a/complete", local, allow_http=True
    )


def test_a_differential_url_is_refused_because_requests_would_call_another_host() -> None:
    import requests

    url = FORGED["backslash before @"]
    assert requests.Request("POST", url).prepare().url.startswith("https://evil.example/")
    assert callback_url_problem(url, TENANT, allow_http=False)


# -- the receiver: 400, logged, nothing queued ---------------------------------------------------
class RecordingQueue:
    def __init__(self) -> None:
        self.sent: list[QueuedInvocation] = []

    def send(self, message: QueuedInvocation) -> str:
        self.sent.append(message)
        return "m-1"


def receiver(queue: RecordingQueue) -> Receiver:
    settings = ReceiverSettings.from_env(
        {"INBOUND_AUTH_TYPE": "BEARER_TOKEN", "INBOUND_SECRET_ID": "inbound", "TENANT_API_URL": TENANT}
    )
    secret = InboundSecret.model_validate({"bearerToken": BEARER})
    authenticator = InboundAuthenticator(AuthType.BEARER_TOKEN, lambda: secret)
    return Receiver(settings, authenticator, HandlerRegistry(PACKAGE, HANDLER_EXCEPTIONS), queue)


def delivery_body(callback_url: str, mode: str) -> str:
    payload: dict[str, Any] = dict(trigger_document(PRE)["exampleInput"])
    payload["_metadata"] = {
        "callbackURL": callback_url,
        "secret": SECRET,
        "responseMode": mode,
        "triggerId": PRE,
        "triggerType": "requestResponse",
    }
    return json.dumps(payload)


@pytest.mark.parametrize("mode", ["async", "dynamic"])
@pytest.mark.parametrize("url", FORGED.values(), ids=FORGED.keys())
def test_the_receiver_refuses_a_forged_callback_with_400_and_logs_it(
    url: str, mode: str, captured_logs: Any
) -> None:
    queue = RecordingQueue()
    response = receiver(queue).receive(PRE, {"Authorization": f"Bearer {BEARER}"}, delivery_body(url, mode))
    assert response.status_code == 400
    assert response.body["message"].startswith("_metadata")
    assert queue.sent == []
    assert url not in response.json_body() and SECRET not in response.json_body()
    logged = captured_logs.getvalue()
    assert "trigger delivery refused" in logged and "callbackURL" in logged
    assert SECRET not in logged


def test_the_receiver_queues_the_tenants_own_callback() -> None:
    queue = RecordingQueue()
    response = receiver(queue).receive(
        PRE, {"Authorization": f"Bearer {BEARER}"}, delivery_body(GOOD, "async")
    )
    assert response.status_code == 200
    assert [message.callback_url for message in queue.sent] == [GOOD]


# -- the worker: dead-lettered with the reason, never called --------------------------------------
class NeverCalled:
    """The callback client: any call is a failure of the test."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def complete(self, url: str, secret: str, **_: Any) -> CallbackResult:
        self.calls.append(url)
        return CallbackResult(CallbackOutcome.COMPLETED, "HTTP 204", status=204)


class FakeSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **kwargs: Any) -> dict[str, str]:
        self.sent.append(kwargs)
        return {"MessageId": "dlq-1"}

    def change_message_visibility(self, **kwargs: Any) -> None:
        raise AssertionError("a refused callback is not retried")


def forged_message(url: str) -> QueuedInvocation:
    """A queue message as if the receiver had accepted `url` (an older receiver, or a forged message)."""
    good = split_envelope(PRE, json.loads(delivery_body(GOOD, "async")))
    message = queued_invocation(good, good_trigger_type(), timedelta(hours=1))
    return message.model_copy(update={"callback_url": url})


def good_trigger_type() -> Any:
    from idn_triggers.catalogue import TriggerType

    return TriggerType.REQUEST_RESPONSE


@pytest.mark.parametrize("url", FORGED.values(), ids=FORGED.keys())
def test_the_worker_dead_letters_a_forged_callback_without_calling_it(url: str, captured_logs: Any) -> None:
    settings = WorkerSettings.from_env(
        {
            "TENANT_API_URL": TENANT,
            "SAILPOINT_CLIENT_SECRET_ID": "client",
            "TOKEN_SECRET_ID": "token",
            "IDEMPOTENCY_TABLE": "table",
            "WORK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/work",
            "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
        }
    )
    callbacks, sqs = NeverCalled(), FakeSqs()
    worker = Worker(settings, HandlerRegistry(PACKAGE, HANDLER_EXCEPTIONS), callbacks, sqs)
    record = {
        "messageId": "m-1",
        "receiptHandle": "r-1",
        "body": forged_message(url).model_dump_json(),
        "attributes": {"ApproximateReceiveCount": "1"},
    }
    assert worker.process_record(record) == "refused"
    assert callbacks.calls == []
    [letter] = sqs.sent
    assert letter["QueueUrl"].endswith("/dlq")
    assert letter["MessageAttributes"]["reason"]["StringValue"].startswith("callback refused: ")
    logged = captured_logs.getvalue()
    assert "callback URL refused" in logged
    assert SECRET not in logged


# -- the worker calls a URL rebuilt from the tenant's, never the delivery's own string ------------
@pytest.mark.parametrize(
    ("sent", "called"),
    [
        (GOOD + "?x=1", GOOD),
        (
            "HTTPS://ACME.API.IDENTITYNOW.COM/beta/trigger-invocations/abc/complete/",
            f"{TENANT}/beta/trigger-invocations/abc/complete",
        ),
    ],
)
def test_the_worker_posts_to_the_completion_url_rebuilt_from_the_tenant(sent: str, called: str) -> None:
    settings = WorkerSettings.from_env(
        {
            "TENANT_API_URL": TENANT,
            "SAILPOINT_CLIENT_SECRET_ID": "client",
            "TOKEN_SECRET_ID": "token",
            "IDEMPOTENCY_TABLE": "table",
            "WORK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/work",
            "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
        }
    )
    callbacks, sqs = NeverCalled(), FakeSqs()
    worker = Worker(settings, HandlerRegistry("trigger_handlers", HANDLER_EXCEPTIONS), callbacks, sqs)
    record = {
        "messageId": "m-1",
        "receiptHandle": "r-1",
        "body": forged_message(sent).model_dump_json(),
        "attributes": {"ApproximateReceiveCount": "1"},
    }
    worker.process_record(record)
    assert callbacks.calls == [called]


def test_a_trailing_newline_is_no_invocation_id() -> None:
    body = json.loads(delivery_body(GOOD, "async"))
    body["_metadata"]["invocationId"] = "abc\n"
    with pytest.raises(InvalidPayload):
        split_envelope(PRE, body)
