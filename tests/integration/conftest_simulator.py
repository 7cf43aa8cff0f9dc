"""Helpers for the tenant simulator tests: a recording receiver, a running simulator, tokens.

Not a pytest conftest (pytest loads only ``conftest.py``): the simulator test modules import
these helpers and declare their own small fixtures.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from idn_simulator import SimulatorConfig, TenantSimulator

CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret"
PRE_APPROVAL = "idn:access-request-pre-approval"
DYNAMIC_APPROVER = "idn:access-request-dynamic-approver"
IDENTITY_CHANGED = "idn:identity-attributes-changed"
GOOD_DECISION = {"approved": True, "comment": "looks fine", "approver": "integration"}


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: Any


Answer = tuple[int, Any]


@dataclass
class Receiver:
    """A subscriber endpoint: records every POST and answers with ``answer(request)``."""

    url: str
    answer: Callable[[Received], Answer] = lambda _: (200, {})
    received: list[Received] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def answer_with(self, status: int, body: Any = None) -> None:
        self.answer = lambda _: (status, body)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """The first ``count`` requests, waiting for them to arrive."""
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise TimeoutError(f"receiver got {len(self.received)} of {count} requests")
            return list(self.received[:count])


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    """A ThreadingHTTPServer on a free loopback port, closed (threads joined) on exit."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = Received(self.path, dict(self.headers.items()), json.loads(raw) if raw else None)
            with receiver.changed:
                receiver.received.append(request)
                receiver.changed.notify_all()
            status, body = receiver.answer(request)
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def running_simulator(**overrides: Any) -> Iterator[TenantSimulator]:
    """A started simulator for the test client; asserts stop() left no thread behind."""
    before = set(threading.enumerate())
    settings: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "rate_limit_per_10s": None,
    }
    settings.update(overrides)
    simulator = TenantSimulator(SimulatorConfig(**settings)).start()
    try:
        yield simulator
    finally:
        simulator.stop()
        deadline = time.monotonic() + 2
        while set(threading.enumerate()) - before and time.monotonic() < deadline:
            time.sleep(0.01)
        leftover = [thread.name for thread in set(threading.enumerate()) - before]
        assert not leftover, f"threads left running: {leftover}"


def fetch_token(simulator: TenantSimulator) -> str:
    response = requests.post(
        f"{simulator.url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


class Client:
    """A requests session with the bearer token, rooted at the simulator's URL."""

    def __init__(self, simulator: TenantSimulator, prefix: str = "") -> None:
        self.base = simulator.url + prefix
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {fetch_token(simulator)}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        return self.session.request(method, self.base + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self.session.close()


def http_subscription(trigger_id: str, url: str, mode: str = "SYNC", **extra: Any) -> dict[str, Any]:
    """A subscription body for ``trigger_id`` delivering to ``url``."""
    body: dict[str, Any] = {
        "name": f"{trigger_id} {mode}",
        "triggerId": trigger_id,
        "type": "HTTP",
        "httpConfig": {"url": url, "httpDispatchMode": mode, "httpAuthenticationType": "NO_AUTH"},
    }
    body.update(extra)
    return body


def error_text(response: requests.Response) -> str:
    """The message of a SailPoint ErrorResponseDto (asserting the shape on the way)."""
    body = response.json()
    assert set(body) >= {"detailCode", "trackingId", "messages"}, body
    text: str = body["messages"][0]["text"]
    return text
