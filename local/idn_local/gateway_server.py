"""API Gateway (REST, proxy integration) in front of the template's functions, on localhost.

Each request becomes the proxy event API Gateway would build; the function's proxy response becomes
the HTTP response. Like API Gateway: unknown routes get 403 `Missing Authentication Token`, a
function that crashes gets 502, bodies over 10 MB get 413.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from idn_local.functions import LocalFunction
from idn_local.gateway_events import proxy_event

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
log = logging.getLogger("idn_local.gateway_server")


class AdminActionRefused(Exception):
    """A local action that cannot run now; its message (no secret in it) is the answer's."""


@dataclass(frozen=True)
class Route:
    method: str
    resource: str
    pattern: re.Pattern[str]
    function: LocalFunction

    @classmethod
    def build(cls, method: str, resource: str, function: LocalFunction) -> Route:
        regex = re.escape(resource)
        regex = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", regex)  # {proxy+}
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        return cls(method.upper(), resource, re.compile(f"^{regex}$"), function)


def routes_for(functions: dict[str, LocalFunction]) -> list[Route]:
    """One route per `Api` event in the template."""
    return [
        Route.build(str(event.properties["Method"]), str(event.properties["Path"]), function)
        for function in functions.values()
        for event in function.spec.events
        if event.type == "Api"
    ]


class ApiGateway(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default backlog of 5 refuses bursts of concurrent senders

    def __init__(self, address: tuple[str, int], routes: list[Route], stage: str) -> None:
        super().__init__(address, _Handler)
        self.routes = routes
        self.stage = stage
        # Local-only operator actions at POST /_local/<name> (no such path exists in AWS), for whoever
        # presents `Authorization: Bearer <admin_token>` (a web page in a browser cannot).
        self.admin_actions: dict[str, Callable[[], Any]] = {}
        self.admin_token = secrets.token_urlsafe(24)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A caller that went away (or a connection closed by stop()) is no error worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="local-api", daemon=True
        )  # a short poll: stop() waits for serve_forever to notice
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for serve_forever: only if it ever ran
            self.shutdown()
        self.server_close()
        if self._thread:
            self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server: ApiGateway
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # headers and body leave in one segment: no Nagle + delayed-ACK stall (~40 ms)

    def log_message(self, format: str, *args: Any) -> None:
        return  # requests are logged once, with their latency, in _serve

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET  # noqa: N815 - stdlib names

    def _serve(self) -> None:
        started = time.perf_counter()
        status = self._dispatch()
        log.info(
            "%s %s -> %s (%.1f ms)",
            self.command,
            urlsplit(self.path).path,
            status,
            (time.perf_counter() - started) * 1000,
        )

    def _dispatch(self) -> int:
        url = urlsplit(self.path)
        path = url.path
        stage_prefix = f"/{self.server.stage}/"
        if path.startswith(stage_prefix):
            path = path[len(stage_prefix) - 1 :]
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True  # the unread body would corrupt the next request
            if length < 0:
                return self._reply(HTTPStatus.BAD_REQUEST, {"message": "Invalid Content-Length"})
            return self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"message": "Request Too Long"})
        body = self.rfile.read(length) if length else None
        if path.startswith("/_local/") and self.command == "POST":
            return self._admin(path.removeprefix("/_local/"))
        for route in self.server.routes:
            match = route.pattern.match(path)
            if match and route.method in (self.command, "ANY"):
                event = proxy_event(
                    method=self.command,
                    path=path,
                    resource=route.resource,
                    # as received, like API Gateway: the receiver decodes its triggerId once
                    path_parameters=match.groupdict(),
                    headers=dict(self.headers.items()),
                    query=parse_qs(url.query) or None,
                    body=body,
                    stage=self.server.stage,
                    source_ip=self.client_address[0],
                )
                return self._invoke(route.function, event)
        return self._reply(HTTPStatus.FORBIDDEN, {"message": "Missing Authentication Token"})

    def _admin(self, name: str) -> int:
        given = (self.headers.get("Authorization") or "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, f"Bearer {self.server.admin_token}".encode()):
            return self._reply(HTTPStatus.UNAUTHORIZED, {"message": "local admin token required"})
        action = self.server.admin_actions.get(name)
        if action is None:
            return self._reply(HTTPStatus.NOT_FOUND, {"message": "no such local action"})
        try:
            result = action()
        except AdminActionRefused as refused:  # our own words, e.g. "nothing to rotate"
            return self._reply(HTTPStatus.CONFLICT, {"message": str(refused)})
        except Exception:  # exception text may hold anything: it goes to the log only
            log.exception("local action %s failed", name)
            return self._reply(
                HTTPStatus.INTERNAL_SERVER_ERROR, {"message": "failed; see the local mode log"}
            )
        return self._reply(HTTPStatus.OK, result if isinstance(result, dict) else {})

    def _invoke(self, function: LocalFunction, event: dict[str, Any]) -> int:
        try:
            response = function.invoke(event)
            status = int(response["statusCode"])
        except Exception:
            log.exception("%s failed: API Gateway would answer 502", function.name)
            return self._reply(HTTPStatus.BAD_GATEWAY, {"message": "Internal server error"})
        headers: dict[str, str] = dict(response.get("headers") or {})
        for key, values in (response.get("multiValueHeaders") or {}).items():
            headers[key] = ", ".join(str(v) for v in values)
        raw = response.get("body") or ""
        payload = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode("utf-8")
        self._send(status, headers, payload)
        return status

    def _reply(self, status: HTTPStatus, body: dict[str, Any]) -> int:
        self._send(int(status), {"Content-Type": "application/json"}, json.dumps(body).encode())
        return int(status)

    def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in {"content-length", "connection"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
