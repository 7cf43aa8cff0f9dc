"""Issue 27 item 7: no request carrying a credential follows a redirect.

A "tenant" over real HTTP answers every request with 307/308 to a second server that records what
reaches it; requests would resend a POST body (client_secret) to it on 307/308.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from idn_triggers.sailpoint_api import SailPointApiError, SailPointClient
from idn_triggers.tokens import (
    ClientCredentials,
    ClientCredentialsTokenProvider,
    TokenUnavailable,
    client_credentials_grant,
)

SECRET = "redirect-client-secret-must-stay-home"
CREDENTIALS = ClientCredentials(clientId="redirect-client", clientSecret=SecretStr(SECRET))


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, status: int, location: str = "") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status, self.location = status, location
        self.seen: list[str] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.server.seen.append(f"{self.command} {self.path} {self.headers.get('Authorization')} {body}")
        self.send_response(self.server.status)
        if self.server.location:
            self.send_header("Location", self.server.location + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST  # noqa: N815 - stdlib names


@pytest.fixture(params=[307, 308])
def redirecting(request: pytest.FixtureRequest) -> Iterator[tuple[Server, Server]]:
    elsewhere = Server(200)
    tenant = Server(int(request.param), location=elsewhere.url)
    yield tenant, elsewhere
    for server in (tenant, elsewhere):
        server.shutdown()
        server.server_close()


def test_the_grant_does_not_follow_a_redirect_with_the_client_secret(
    redirecting: tuple[Server, Server],
) -> None:
    tenant, elsewhere = redirecting
    with pytest.raises(TokenUnavailable, match=r"HTTP 30[78]") as refused:
        client_credentials_grant(tenant.url, CREDENTIALS, requests.Session())
    assert SECRET not in str(refused.value)
    assert len(tenant.seen) == 1 and elsewhere.seen == []


def test_the_token_provider_does_not_follow_a_redirect(redirecting: tuple[Server, Server]) -> None:
    tenant, elsewhere = redirecting
    with pytest.raises(TokenUnavailable):
        ClientCredentialsTokenProvider(tenant.url, lambda: CREDENTIALS).token()
    assert len(tenant.seen) == 1 and elsewhere.seen == []


class FixedToken:
    def token(self) -> str:
        return "access-token-must-stay-home"

    def invalidate(self, token: str) -> None:
        return


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
def test_the_api_client_does_not_follow_a_redirect_with_the_access_token(
    redirecting: tuple[Server, Server], method: str
) -> None:
    tenant, elsewhere = redirecting
    api = SailPointClient(tenant.url, FixedToken(), max_retries=0, sleep=lambda s: None)
    with contextlib.suppress(SailPointApiError):
        api.request(method, "/trigger-subscriptions/v1", json={})
    assert elsewhere.seen == []
