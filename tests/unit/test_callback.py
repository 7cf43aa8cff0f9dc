"""Completing an invocation (CallbackClient) and getting the access token for it
(ClientCredentialsTokenProvider), against a tiny scripted tenant on a loopback port.

The tenant issues `token-1`, `token-2`, ... at `/oauth/token` and answers every other POST with the
next scripted reply (default 204), recording what it received.
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import pytest

from idn_triggers import tokens as tokens_module
from idn_triggers.callback import CallbackClient, CallbackOutcome
from idn_triggers.errors import ConfigurationError
from idn_triggers.http_answers import retry_after_seconds
from idn_triggers.tokens import (
    REFRESH_MARGIN_SECONDS,
    ClientCredentials,
    ClientCredentialsTokenProvider,
    TokenUnavailable,
    load_client_credentials,
)

CLIENT_ID, CLIENT_SECRET = "api-client", "api-client-secret-4d2c"
SECRET = "invocation-secret-91be"
OUTPUT = {"approved": True, "comment": "ok", "approver": "worker"}
LIFETIME = 749
ERROR_RESPONSE_DTO = {
    "detailCode": "400.1 Bad request content",
    "trackingId": "5f2a6c0e7a4b4e1c9d3b2a1f0e9d8c7b",
    "messages": [
        {"locale": "en-US", "localeOrigin": "DEFAULT", "text": "output does not match the outputSchema"}
    ],
    "causes": [],
}


@dataclass
class Reply:
    """One scripted answer: status, JSON body (or raw bytes), headers; `hold` delays it."""

    status: int = 204
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Tenant:
    url: str
    replies: deque[Reply] = field(default_factory=deque)
    token_replies: deque[Reply] = field(default_factory=deque)
    seen: list[Seen] = field(default_factory=list)
    tokens_issued: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)

    def completions(self) -> list[Seen]:
        return [request for request in self.seen if request.path != "/oauth/token"]

    def token_requests(self) -> list[Seen]:
        return [request for request in self.seen if request.path == "/oauth/token"]

    def wait_for_token_requests(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.token_requests()) >= count, timeout=5)

    def next_reply(self, path: str) -> Reply:
        if path == "/oauth/token":
            if self.token_replies:
                return self.token_replies.popleft()
            self.tokens_issued += 1
            return Reply(200, {"access_token": f"token-{self.tokens_issued}", "expires_in": LIFETIME})
        return self.replies.popleft() if self.replies else Reply()


@pytest.fixture
def tenant() -> Iterator[Tenant]:
    releases: list[threading.Event] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.changed:
                state.seen.append(Seen(self.path, dict(self.headers.items()), raw))
                reply = state.next_reply(self.path)
                state.changed.notify_all()
            if reply.hold is not None:
                releases.append(reply.hold)
                reply.hold.wait(timeout=5)
            payload = reply.body if isinstance(reply.body, bytes) else b""
            if reply.body is not None and not isinstance(reply.body, bytes):
                payload = json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up waiting (timeout tests)
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Tenant(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        for release in releases:
            release.set()
        server.shutdown()
        server.server_close()  # joins the request threads
        thread.join()


def credentials() -> ClientCredentials:
    return ClientCredentials.model_validate({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET})


@pytest.fixture
def provider(tenant: Tenant) -> ClientCredentialsTokenProvider:
    return ClientCredentialsTokenProvider(tenant.url, credentials, timeout=2)


@pytest.fixture
def client(provider: ClientCredentialsTokenProvider) -> Iterator[CallbackClient]:
    callbacks = CallbackClient(provider, timeout=2)
    yield callbacks
    callbacks.session.close()


def callback_url(tenant: Tenant) -> str:
    return f"{tenant.url}/trigger-invocations/v1/0f1e2d3c/complete"


# -- CallbackClient -----------------------------------------------------------------------------
@pytest.mark.parametrize("status", [200, 202, 204])
def test_a_2xx_answer_completes_the_invocation(tenant: Tenant, client: CallbackClient, status: int) -> None:
    tenant.replies.append(Reply(status))

    result = client.complete(callback_url(tenant), SECRET, output=OUTPUT)

    assert (result.outcome, result.status, result.reason) == (
        CallbackOutcome.COMPLETED,
        status,
        f"HTTP {status}",
    )
    [sent] = tenant.completions()
    assert sent.path == "/trigger-invocations/v1/0f1e2d3c/complete"
    assert sent.json() == {"secret": SECRET, "output": OUTPUT}
    assert sent.headers["Authorization"] == "Bearer token-1"
    assert sent.headers["Content-Type"] == "application/json"


def test_an_error_is_sent_instead_of_output(tenant: Tenant, client: CallbackClient) -> None:
    result = client.complete(callback_url(tenant), SECRET, error="could not decide")

    assert result.outcome is CallbackOutcome.COMPLETED
    assert tenant.completions()[0].json() == {"secret": SECRET, "error": "could not decide"}


def test_a_null_output_is_sent_as_null(tenant: Tenant, client: CallbackClient) -> None:
    client.complete(callback_url(tenant), SECRET, output=None)

    assert tenant.completions()[0].json() == {"secret": SECRET, "output": None}


def test_the_token_is_reused_across_completions(tenant: Tenant, client: CallbackClient) -> None:
    for _ in range(3):
        client.complete(callback_url(tenant), SECRET, output=OUTPUT)

    assert len(tenant.token_requests()) == 1
    assert {sent.headers["Authorization"] for sent in tenant.completions()} == {"Bearer token-1"}


def test_a_401_refreshes_the_token_once_and_retries(tenant: Tenant, client: CallbackClient) -> None:
    tenant.replies.extend([Reply(401, {"error": "invalid_token"}), Reply(204)])

    result = client.complete(callback_url(tenant), SECRET, output=OUTPUT)

    assert result.outcome is CallbackOutcome.COMPLETED
    assert len(tenant.token_requests()) == 2
    assert [sent.headers["Authorization"] for sent in tenant.completions()] == [
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_a_second_401_is_left_for_a_later_retry(tenant: Tenant, client: CallbackClient) -> None:
    tenant.replies.extend([Reply(401), Reply(401)])

    result = client.complete(callback_url(tenant), SECRET, output=OUTPUT)

    assert (result.outcome, result.status) == (CallbackOutcome.RETRY, 401)
    assert len(tenant.completions()) == 2 and len(tenant.token_requests()) == 2


def test_a_429_is_retried_after_its_retry_after_seconds(tenant: Tenant, client: CallbackClient) -> None:
    tenant.replies.append(Reply(429, {"error": "Too Many Requests"}, {"Retry-After": "7"}))

    result = client.complete(callback_url(tenant), SECRET, output=OUTPUT)

    assert (result.outcome, result.status, result.retry_after) == (CallbackOutcome.RETRY, 429, 7.0)


def test_a_429_with_an_http_date_is_retried_after_that_date(tenant: Tenant, client: CallbackClient) -> None:
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    tenant.replies.append(Reply(429, None, {"Retry-After": when}))

    result = client.complete(callback_url(tenant), SECRET, output=OUTPUT)

    assert result.outcome is CallbackOutcome.RETRY
    assert result.retry_after is not None and 100 < result.retry_after <= 120


def test_an_unreadable_retry_after_is_ignored_not_fatal(tenant: Tenant, client: CallbackClient) -> None:
    tenant.replies.append(Reply(429, None, {"Retry-After": "after lunch"}))

    result = client.complete(callback_url(tenant), SECRET, output=OUTPUT)

    assert (result.outcome, result.retry_after) == (CallbackOutcome.RETRY, None)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_is_retried(tenant: Tenant, client: CallbackClient, status: int) -> None:
    tenant.replies.append(Reply(status, ERROR_RESPONSE_DTO))

    result = client.complete(callback_url(tenant), SECRET, output=OUTPUT)

    assert (result.outcome, result.status, result.retry_after) == (CallbackOutcome.RETRY, status, None)


def test_a_503_with_retry_after_carries_it(tenant: Tenant, client: CallbackClient) -> None:
    tenant.replies.append(Reply(503, None, {"Retry-After": "3"}))

    assert client.complete(callback_url(tenant), SECRET, output=OUTPUT).retry_after == 3.0


def test_a_tenant_slower_than_the_timeout_is_retried(
    tenant: Tenant, provider: ClientCredentialsTokenProvider
) -> None:
    provider.token()  # the token endpoint is not the slow part here
    tenant.replies.append(Reply(204, hold=threading.Event()))  # released when the test ends
    impatient = CallbackClient(provider, timeout=0.2)

    result = impatient.complete(callback_url(tenant), SECRET, output=OUTPUT)
    impatient.session.close()

    assert (result.outcome, result.reason) == (CallbackOutcome.RETRY, "callback timed out")


def test_an_unreachable_tenant_is_retried(provider: ClientCredentialsTokenProvider, tenant: Tenant) -> None:
    provider.token()
    client = CallbackClient(provider, timeout=2)
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()  # nothing listens there any more

    result = client.complete(f"http://127.0.0.1:{port}/trigger-invocations/v1/x/complete", SECRET, output={})
    client.session.close()

    assert (result.outcome, result.reason) == (CallbackOutcome.RETRY, "callback failed (ConnectionError)")


def test_a_400_is_permanent_with_sailpoints_error_text(tenant: Tenant, client: CallbackClient) -> None:
    tenant.replies.append(Reply(400, ERROR_RESPONSE_DTO))

    result = client.complete(callback_url(tenant), SECRET, output=OUTPUT)

    assert (result.outcome, result.status) == (CallbackOutcome.PERMANENT, 400)
    assert result.reason == "HTTP 400: output does not match the outputSchema"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(404, {"message": "invocation not found"}), "HTTP 404: invocation not found"),
        (Reply(403, b"<html>Forbidden</html>"), "HTTP 403: Forbidden"),
        (Reply(409, ["not", "a", "dto"]), "HTTP 409: "),
        (Reply(400, {"messages": [{"text": "x" * 1000}]}), "HTTP 400: " + "x" * 300),
    ],
    ids=["message", "not-json", "not-an-object", "long-text"],
)
def test_other_4xx_are_permanent(tenant: Tenant, client: CallbackClient, reply: Reply, reason: str) -> None:
    tenant.replies.append(reply)

    result = client.complete(callback_url(tenant), SECRET, output=OUTPUT)

    assert (result.outcome, result.reason) == (CallbackOutcome.PERMANENT, reason)
    assert SECRET not in result.reason


def test_a_redirect_is_not_followed(tenant: Tenant, client: CallbackClient) -> None:
    tenant.replies.append(Reply(307, None, {"Location": f"{tenant.url}/collect-secrets"}))

    result = client.complete(callback_url(tenant), SECRET, output=OUTPUT)

    assert (result.outcome, result.status) == (CallbackOutcome.PERMANENT, 307)
    assert [sent.path for sent in tenant.completions()] == ["/trigger-invocations/v1/0f1e2d3c/complete"]


def test_no_token_means_no_completion_attempt_and_a_retry(tenant: Tenant, client: CallbackClient) -> None:
    tenant.token_replies.append(Reply(503))

    result = client.complete(callback_url(tenant), SECRET, output=OUTPUT)

    assert (result.outcome, result.reason) == (
        CallbackOutcome.RETRY,
        "no access token: token endpoint answered HTTP 503",
    )
    assert tenant.completions() == []


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        ("120", 120.0),
        ("1.5", 1.5),
        ("-5", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: now
        ("tomorrow", None),
        ("inf", None),
        ("nan", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


# -- ClientCredentialsTokenProvider --------------------------------------------------------------
def test_the_grant_is_client_credentials_with_the_clients_id_and_secret(
    tenant: Tenant, provider: ClientCredentialsTokenProvider
) -> None:
    assert provider.token() == "token-1"

    [grant] = tenant.token_requests()
    assert grant.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(grant.body.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": [CLIENT_ID],
        "client_secret": [CLIENT_SECRET],
    }


def test_the_token_is_cached_until_shortly_before_it_expires(
    tenant: Tenant, provider: ClientCredentialsTokenProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1_000_000.0]
    monkeypatch.setattr(tokens_module, "time", SimpleNamespace(time=lambda: now[0]))

    assert provider.token() == provider.token() == "token-1"
    now[0] += LIFETIME - REFRESH_MARGIN_SECONDS - 1
    assert provider.token() == "token-1"
    assert len(tenant.token_requests()) == 1

    now[0] += 2  # inside the margin: refreshed before SailPoint would refuse it
    assert provider.token() == "token-2"
    assert len(tenant.token_requests()) == 2 and provider.requests_made == 2


def test_concurrent_callers_share_one_grant(tenant: Tenant, provider: ClientCredentialsTokenProvider) -> None:
    release = threading.Event()
    tenant.token_replies.append(Reply(200, {"access_token": "shared", "expires_in": LIFETIME}, hold=release))
    start = threading.Barrier(8)
    results: list[str] = []

    def call() -> None:
        start.wait(timeout=5)
        results.append(provider.token())

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    tenant.wait_for_token_requests(1)  # one grant in flight, held by the tenant
    release.set()
    for thread in threads:
        thread.join(timeout=5)

    assert results == ["shared"] * 8
    assert len(tenant.token_requests()) == 1


def test_an_invalidated_token_is_replaced(tenant: Tenant, provider: ClientCredentialsTokenProvider) -> None:
    first = provider.token()

    provider.invalidate(first)

    assert provider.token() == "token-2"


def test_invalidating_an_old_token_keeps_the_current_one(
    tenant: Tenant, provider: ClientCredentialsTokenProvider
) -> None:
    provider.token()

    provider.invalidate("token-0")

    assert provider.token() == "token-1" and len(tenant.token_requests()) == 1


def test_a_refused_client_is_token_unavailable_without_its_secret(
    tenant: Tenant, provider: ClientCredentialsTokenProvider
) -> None:
    tenant.token_replies.append(
        Reply(401, {"error": "invalid_client", "error_description": "Bad credentials"})
    )

    with pytest.raises(TokenUnavailable, match="HTTP 401") as failure:
        provider.token()

    assert CLIENT_SECRET not in str(failure.value)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>maintenance</html>",
        ["access_token"],
        "access_token",
        {"token_type": "bearer"},
        {"access_token": None, "expires_in": LIFETIME},
        {"access_token": "", "expires_in": LIFETIME},
        {"access_token": 42, "expires_in": LIFETIME},
        {"access_token": "t", "expires_in": "soon"},
    ],
    ids=["html", "list", "string", "no-token", "null-token", "empty-token", "number-token", "bad-lifetime"],
)
def test_a_garbage_token_answer_is_token_unavailable(
    tenant: Tenant, provider: ClientCredentialsTokenProvider, body: Any
) -> None:
    tenant.token_replies.append(Reply(200, body))

    with pytest.raises(TokenUnavailable, match="without a usable access_token"):
        provider.token()


def test_a_failed_grant_is_retried_by_the_next_caller(
    tenant: Tenant, provider: ClientCredentialsTokenProvider
) -> None:
    tenant.token_replies.append(Reply(500))

    with pytest.raises(TokenUnavailable):
        provider.token()

    assert provider.token() == "token-1"


def test_an_unreadable_credential_store_is_token_unavailable(tenant: Tenant) -> None:
    def store_down() -> ClientCredentials:
        raise ConnectionError("secrets manager throttled")

    provider = ClientCredentialsTokenProvider(tenant.url, store_down)

    with pytest.raises(TokenUnavailable, match=r"client credentials unavailable \(ConnectionError\)"):
        provider.token()
    assert tenant.token_requests() == []


def test_a_malformed_client_secret_is_a_configuration_error_not_a_retry(tenant: Tenant) -> None:
    provider = ClientCredentialsTokenProvider(
        tenant.url, lambda: load_client_credentials("sailpoint-client", lambda _: {"clientId": "id"})
    )

    with pytest.raises(ConfigurationError, match="sailpoint-client"):
        provider.token()


def test_an_unreachable_token_endpoint_is_token_unavailable() -> None:
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()
    provider = ClientCredentialsTokenProvider(f"http://127.0.0.1:{port}/", credentials, timeout=2)

    with pytest.raises(TokenUnavailable, match="unreachable"):
        provider.token()


# -- load_client_credentials --------------------------------------------------------------------
def test_client_credentials_are_read_from_their_secret() -> None:
    loaded = load_client_credentials(
        "sailpoint-client", lambda name: {"clientId": "id", "clientSecret": "s3"}
    )

    assert loaded.client_id == "id" and loaded.client_secret.get_secret_value() == "s3"
    assert "s3" not in repr(loaded)


@pytest.mark.parametrize(
    ("value", "missing"),
    [
        ({"clientId": "id"}, "clientSecret"),
        ({"clientSecret": "s3"}, "clientId"),
        ({"clientId": "", "clientSecret": "s3"}, "clientId"),
        ({"id": "id", "secret": "s3"}, "clientId, clientSecret"),
    ],
)
def test_a_malformed_client_secret_names_the_secret_and_the_key(value: dict[str, str], missing: str) -> None:
    with pytest.raises(ConfigurationError) as failure:
        load_client_credentials("arn:aws:secretsmanager:us-east-1:1:secret:sailpoint-client", lambda _: value)

    message = str(failure.value)
    assert "arn:aws:secretsmanager:us-east-1:1:secret:sailpoint-client" in message
    assert message.endswith(f"bad or missing: {missing}")
    assert "s3" not in message
    assert failure.value.public_message == "receiver is misconfigured; see its logs"


def test_already_completed_after_an_earlier_attempt_counts_as_completed(
    tenant: Tenant, client: CallbackClient
) -> None:
    # An earlier attempt timed out on our side but landed: SailPoint refuses the repeat with 400.
    tenant.replies.append(
        Reply(400, {"messages": [{"locale": "en-US", "text": "invocation already completed"}]})
    )

    result = client.complete(callback_url(tenant), SECRET, output=OUTPUT)

    assert result.outcome is CallbackOutcome.COMPLETED and "earlier attempt" in result.reason
