"""HTTP front of the simulated tenant: routing, auth, rate limit, faults, admin endpoints.

Standard library only (``http.server``). Connections are HTTP/1.1 keep-alive, tracked so that
``stop()`` can close idle ones instead of waiting for clients. Request lines are logged without
their query string (the token endpoint accepts credentials there); bodies and headers never are.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import re
import socket
import socketserver
import struct
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from jayway_filter import UnsupportedFilterError, validate_filter

from .api_errors import ApiError, bad_request, error_response, not_found
from .faults import SCOPES, ConnectionDropped, Fault
from .invocations import iso
from .listing import apply_filters, apply_sorters, paginate
from .state import REAL_TIME, TEST, Tenant

log = logging.getLogger("idn_simulator")

_LEGACY = re.compile(
    r"^/(?P<version>beta|v2024|v2025|v2026)/(?P<resource>triggers|trigger-subscriptions|trigger-invocations)(?P<rest>/.*)?$"
)
_JSON_TYPES = ("application/json",)
_PATCH_TYPES = ("application/json-patch+json",)
MAX_STATUSES = 2000  # the spec: the status endpoint returns up to 2000 invocations


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # normalised to the /v1 form
    params: dict[str, str]
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    api_prefix: str = ""  # "beta", "v2025", ... when the request used a legacy path

    def json(self, content_types: tuple[str, ...] = _JSON_TYPES) -> Any:
        """The JSON body; 415 for a non-JSON content type, 400 for a missing or broken body."""
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type and content_type not in content_types:
            raise ApiError(415, f"Content-Type must be {' or '.join(content_types)}")
        if not self.body.strip():
            raise bad_request("request body is required")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as err:
            raise bad_request(f"request body is not valid JSON: {err}") from None


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _deprecated(response: Response, deprecated: bool) -> Response:
    """Legacy paths (`beta`, yearly versions) answer `X-Deprecated: true`, as SailPoint marks them."""
    if not deprecated:
        return response
    return Response(response.status, response.body, {**response.headers, "X-Deprecated": "true"})


Handler = Callable[[Request], Response]


class Api:
    """Maps requests onto the tenant; every error becomes a JSON answer, never a traceback."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.stopping = threading.Event()
        self._routes: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
            (re.compile(r"^/triggers/v1$"), {"GET": self.list_triggers}),
            (
                re.compile(r"^/trigger-subscriptions/v1$"),
                {"GET": self.list_subscriptions, "POST": self.create_subscription},
            ),
            (re.compile(r"^/trigger-subscriptions/v1/validate-filter$"), {"POST": self.validate_filter}),
            (
                re.compile(r"^/trigger-subscriptions/v1/(?P<id>[^/]+)$"),
                {
                    "PUT": self.replace_subscription,
                    "PATCH": self.patch_subscription,
                    "DELETE": self.delete_subscription,
                },
            ),
            (re.compile(r"^/trigger-invocations/v1/status$"), {"GET": self.list_statuses}),
            (re.compile(r"^/trigger-invocations/v1/test$"), {"POST": self.start_test}),
            (re.compile(r"^/trigger-invocations/v1/(?P<id>[^/]+)/complete$"), {"POST": self.complete}),
        ]
        self._admin: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
            (re.compile(r"^/_sim/health$"), {"GET": lambda _: Response(200, {"status": "ok"})}),
            (
                re.compile(r"^/_sim/stats$"),
                {"GET": lambda _: Response(200, asdict(self.tenant.counters.snapshot()))},
            ),
            (re.compile(r"^/_sim/invocations$"), {"GET": self.admin_invocations}),
            (re.compile(r"^/_sim/invocations/(?P<id>[^/]+)$"), {"GET": self.admin_invocation}),
            (
                re.compile(r"^/_sim/faults$"),
                {"GET": self.admin_faults, "POST": self.admin_add_faults, "DELETE": self.admin_clear_faults},
            ),
            (re.compile(r"^/_sim/tokens/expire$"), {"POST": self.admin_expire_tokens}),
            (re.compile(r"^/_sim/reset$"), {"POST": self.admin_reset}),
            (re.compile(r"^/_sim/config$"), {"GET": self.admin_config, "POST": self.admin_set_config}),
            (re.compile(r"^/_sim/events$"), {"POST": self.admin_fire_event}),
            (re.compile(r"^/_sim/clock$"), {"GET": self.admin_clock, "POST": self.admin_advance_clock}),
        ]

    # Dispatch ----------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        parts = urlsplit(target)
        path, prefix = parts.path, ""
        legacy = _LEGACY.match(path)
        if legacy:
            prefix = legacy["version"]
            path = f"/{legacy['resource']}/v1{legacy['rest'] or ''}"
        query = parse_qs(parts.query, keep_blank_values=True)
        try:
            if path.startswith("/_sim/"):
                handler, params = self._route(self._admin, method, path)
                return handler(Request(method, path, params, query, headers, body))
            if path == "/oauth/token":
                return self.token(Request(method, path, {}, query, headers, body))
            handler, params = self._route(self._routes, method, path)
            self.tenant.counters.bump("requests")
            self._inject("requests")
            token = self.tenant.tokens.authenticate(headers.get("Authorization"))
            try:  # SailPoint counts per client_id and API version, not per token
                self.tenant.limiter.check(f"{self.tenant.tokens.client_of(token)}:{prefix or 'v1'}")
            except ApiError:
                self.tenant.counters.bump("rate_limited")
                raise
            deprecated = bool(prefix) or any(path.startswith(p) for p in self.tenant.deprecated_paths)
            return _deprecated(
                handler(Request(method, path, params, query, headers, body, prefix)), deprecated
            )
        except ApiError as err:
            return _deprecated(Response(err.status, err.body, err.headers), bool(prefix))
        except ConnectionDropped:
            raise
        except Exception:  # a simulator bug: answer like SailPoint would, keep serving
            log.exception("unexpected error handling %s %s", method, path)
            return Response(500, error_response(500, "An internal fault occurred."))

    @staticmethod
    def _route(
        routes: list[tuple[re.Pattern[str], dict[str, Handler]]], method: str, path: str
    ) -> tuple[Handler, dict[str, str]]:
        for pattern, methods in routes:
            match = pattern.match(path)
            if match is None:
                continue
            if method not in methods:
                raise ApiError(
                    405, f"method {method} is not allowed here", headers={"Allow": ", ".join(methods)}
                )
            return methods[method], {key: unquote(value) for key, value in match.groupdict().items()}
        raise not_found(f"no such endpoint: {path}")

    def _inject(self, scope: str) -> None:
        """Apply the next pending fault of ``scope``: wait, then maybe answer with an error."""
        fault = self.tenant.faults.take(scope)
        if fault is None:
            return
        if fault.delay_seconds:
            self.stopping.wait(fault.delay_seconds)
        if fault.reset:
            raise ConnectionDropped()
        error = fault.error()
        if error is not None:
            raise error

    # OAuth -------------------------------------------------------------------------------------

    def token(self, request: Request) -> Response:
        """POST /oauth/token, client_credentials: credentials in the form body, query or HTTP Basic."""
        self.tenant.counters.bump("token_requests")
        if request.method != "POST":
            raise ApiError(405, "use POST", headers={"Allow": "POST"})
        self._inject("token")
        params = {key: values[0] for key, values in request.query.items()}
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if request.body and content_type in ("", "application/x-www-form-urlencoded"):
            try:
                form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                raise _oauth_error(400, "invalid_request", "body is not UTF-8") from None
            params.update({key: values[0] for key, values in form.items()})
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        basic = _basic_credentials(request.headers.get("Authorization"))
        if basic is not None:
            client_id, client_secret = basic
        grant = params.get("grant_type")
        if not grant:
            raise _oauth_error(400, "invalid_request", "grant_type is required")
        if grant != "client_credentials":
            raise _oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
        token, lifetime = self.tenant.tokens.issue(client_id, client_secret)
        self.tenant.counters.bump("tokens_issued")
        body = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": lifetime,
            "scope": "sp:scopes:all",
            "tenant_id": self.tenant.config.tenant,
            "internal": True,
            "pod": "simulated",
            "strong_auth_supported": False,
            "org": self.tenant.config.tenant,
            "claims_supported": False,
        }
        return Response(200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    # Triggers and subscriptions ----------------------------------------------------------------

    def list_triggers(self, request: Request) -> Response:
        items = [trigger.api_view() for trigger in self.tenant.catalogue.all()]
        items = apply_filters(items, _first(request.query, "filters"), {"id": {"eq", "ge", "le"}})
        items = apply_sorters(items, _first(request.query, "sorters"), {"id", "name"})
        page, headers = paginate(items, request.query)
        return Response(200, page, headers)

    def list_subscriptions(self, request: Request) -> Response:
        items = [sub.api_view() for sub in self.tenant.subscriptions()]
        allowed = {"id": {"eq"}, "triggerId": {"eq"}, "type": {"eq", "le"}}
        items = apply_filters(items, _first(request.query, "filters"), allowed)
        items = apply_sorters(items, _first(request.query, "sorters"), {"triggerId", "triggerName"})
        page, headers = paginate(items, request.query)
        return Response(200, page, headers)

    def create_subscription(self, request: Request) -> Response:
        return Response(201, self.tenant.create_subscription(request.json()).api_view())

    def replace_subscription(self, request: Request) -> Response:
        return Response(
            200, self.tenant.replace_subscription(request.params["id"], request.json()).api_view()
        )

    def patch_subscription(self, request: Request) -> Response:
        operations = request.json(_PATCH_TYPES)
        return Response(200, self.tenant.patch_subscription(request.params["id"], operations).api_view())

    def delete_subscription(self, request: Request) -> Response:
        self.tenant.delete_subscription(request.params["id"])
        return Response(204)

    def validate_filter(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise bad_request("request body must be a JSON object")
        payload, expression = body.get("input"), body.get("filter")
        if not isinstance(payload, dict):
            raise bad_request("input is required and must be a JSON object")
        if not isinstance(expression, str):
            raise bad_request("filter is required and must be a string")
        try:
            verdict = validate_filter(expression, payload)
        except UnsupportedFilterError as err:
            raise bad_request(
                f"filter uses Jayway syntax this simulator does not evaluate yet: {err}"
            ) from None
        return Response(
            200,
            {
                "isValid": verdict.is_valid,
                "isValidJSONPath": verdict.is_valid_json_path,
                "isPathExist": verdict.is_path_exist,
            },
        )

    # Invocations -------------------------------------------------------------------------------

    def list_statuses(self, request: Request) -> Response:
        records = sorted(self.tenant.invocations.all(), key=lambda record: record.created, reverse=True)
        items = [record.status_view() for record in records[:MAX_STATUSES]]
        allowed = {"triggerId": {"eq"}, "subscriptionId": {"eq"}}
        items = apply_filters(items, _first(request.query, "filters"), allowed)
        sortable = {"triggerId", "subscriptionName", "created", "completed"}
        items = apply_sorters(items, _first(request.query, "sorters"), sortable)
        page, headers = paginate(items, request.query)
        return Response(200, page, headers)

    def start_test(self, request: Request) -> Response:
        """200 with the started invocations; 204 when no subscription receives the test (the spec)."""
        body = request.json()
        if not isinstance(body, dict):
            raise bad_request("request body must be a JSON object")
        content_json = body.get("contentJson")
        if not isinstance(content_json, dict):
            raise bad_request("contentJson is required and must be a JSON object")
        ids = body.get("subscriptionIds")
        if ids is not None and not (isinstance(ids, list) and all(isinstance(item, str) for item in ids)):
            raise bad_request("subscriptionIds must be an array of strings")
        records = self.tenant.start_invocations(
            body.get("triggerId"),
            body.get("input"),
            content_json=content_json,
            subscription_ids=ids,
            kind=TEST,
            api_prefix=request.api_prefix,
        )
        if not records:
            return Response(204)
        started = [
            {"id": r.id, "triggerId": r.trigger_id, "secret": r.secret, "contentJson": r.content_json}
            for r in records
        ]
        return Response(200, started)

    def complete(self, request: Request) -> Response:
        self.tenant.counters.bump("completions")
        self._inject("completions")
        self.tenant.invocations.complete(request.params["id"], request.json())
        self.tenant.counters.bump("completions_accepted")
        return Response(204)

    # Admin (/_sim) -----------------------------------------------------------------------------

    def admin_invocations(self, request: Request) -> Response:
        records = self.tenant.invocations.all()
        trigger_id = _first(request.query, "triggerId")
        if trigger_id:
            records = [record for record in records if record.trigger_id == trigger_id]
        return Response(200, [record.admin_view() for record in records])

    def admin_invocation(self, request: Request) -> Response:
        record = self.tenant.invocations.get(request.params["id"])
        if record is None:
            raise not_found(f"invocation '{request.params['id']}' not found")
        return Response(200, record.admin_view())

    def admin_faults(self, _: Request) -> Response:
        return Response(200, self.tenant.faults.pending())

    def admin_add_faults(self, request: Request) -> Response:
        """``{"completions": {"count": 2, "status": 500}, "requests": {"status": 429, "retry_after": 1}}``;
        ``{"deliveries": {"drop_connection": true}}`` refuses the connection (``reset`` is the older
        name of that option; clearing every fault is ``DELETE /_sim/faults``)."""
        body = request.json()
        if not isinstance(body, dict) or not body:
            raise bad_request(f"body must map a scope ({', '.join(SCOPES)}) to a fault")
        parsed: list[tuple[str, int, Fault, float | None, int | None]] = []
        for scope, spec in body.items():
            if scope not in SCOPES or not isinstance(spec, dict):
                raise bad_request(f"unknown fault scope '{scope}'; use {', '.join(SCOPES)} with an object")
            unknown = set(spec) - {
                "count",
                "status",
                "retry_after",
                "delay_seconds",
                "reset",
                "drop_connection",
                "delivered",
                "rate",
                "seed",
            }
            if unknown:
                raise bad_request(f"{scope}: unknown keys {', '.join(sorted(unknown))}")
            try:
                count = int(spec.get("count", 1))
                status = spec.get("status")
                retry_after = spec.get("retry_after")
                fault = Fault(
                    status=int(status) if status is not None else None,
                    retry_after=int(retry_after) if retry_after is not None else None,
                    delay_seconds=float(spec.get("delay_seconds", 0)),
                    # `drop_connection` says what it does; `reset` is its older name (a TCP reset,
                    # not "clear the faults": that is DELETE /_sim/faults)
                    reset=spec.get("drop_connection", spec.get("reset", False)) is True,
                    delivered=spec.get("delivered", False) is True,
                )
                rate = float(spec["rate"]) if "rate" in spec else None
                seed = int(spec["seed"]) if spec.get("seed") is not None else None
            except (TypeError, ValueError):
                raise bad_request(
                    f"{scope}: count, status, retry_after and seed are integers, delay_seconds and rate numbers"
                ) from None
            if fault.status is None and not fault.delay_seconds and not fault.reset and not fault.delivered:
                raise bad_request(
                    f"{scope}: give a status, a delay_seconds, a drop_connection, or a combination"
                )
            if fault.delivered and scope != "deliveries":
                raise bad_request(f"{scope}: delivered applies to the deliveries scope only")
            parsed.append((scope, count, fault, rate, seed))
        for scope, count, fault, rate, seed in parsed:
            try:
                if rate is None:
                    self.tenant.faults.add(scope, count, fault)
                else:  # a share of the requests from now on, until rate 0 or a reset
                    self.tenant.faults.set_random(scope, rate, [fault], seed)
            except ValueError as err:
                raise bad_request(f"{scope}: {err}") from None
        return Response(200, self.tenant.faults.pending())

    def admin_clear_faults(self, _: Request) -> Response:
        self.tenant.faults.clear()
        return Response(204)

    def admin_expire_tokens(self, _: Request) -> Response:
        self.tenant.tokens.expire_all()
        return Response(204)

    def admin_reset(self, _: Request) -> Response:
        self.tenant.reset()
        return Response(204)

    def admin_config(self, _: Request) -> Response:
        return Response(
            200,
            {"rate_limit_per_10s": self.tenant.limiter.limit, "token_lifetime": self.tenant.tokens.lifetime},
        )

    def admin_set_config(self, request: Request) -> Response:
        """``{"rate_limit_per_10s": 5}`` (null or 0 disables it) and/or ``{"token_lifetime": 30}``."""
        body = request.json()
        if (
            not isinstance(body, dict)
            or not set(body) <= {"rate_limit_per_10s", "token_lifetime"}
            or not body
        ):
            raise bad_request("body sets rate_limit_per_10s and/or token_lifetime")
        if "rate_limit_per_10s" in body:
            limit = body["rate_limit_per_10s"]
            if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
                raise bad_request("rate_limit_per_10s must be a non-negative integer or null")
            self.tenant.limiter.limit = limit
        if "token_lifetime" in body:
            lifetime = body["token_lifetime"]
            if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime < 1:
                raise bad_request("token_lifetime must be a positive integer (seconds)")
            self.tenant.tokens.lifetime = lifetime
        return self.admin_config(request)

    def admin_clock(self, _: Request) -> Response:
        return Response(
            200,
            {
                "now": iso(self.tenant.clock.now()),
                "offsetSeconds": self.tenant.clock.offset.total_seconds(),
            },
        )

    def admin_advance_clock(self, request: Request) -> Response:
        """``{"advanceSeconds": 3600}``: move the tenant's clock (retention, deadlines, timestamps)."""
        body = request.json()
        seconds = body.get("advanceSeconds") if isinstance(body, dict) else None
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
            raise bad_request('body is {"advanceSeconds": N} (a number, negative moves back)')
        self.tenant.clock.advance(timedelta(seconds=seconds))
        return self.admin_clock(request)

    def admin_fire_event(self, request: Request) -> Response:
        """A REAL_TIME event: ``{"triggerId": ..., "input": {...}}`` to the enabled subscriptions."""
        body = request.json()
        if not isinstance(body, dict):
            raise bad_request("request body must be a JSON object")
        content_json = body.get("contentJson")
        if content_json is not None and not isinstance(content_json, dict):
            raise bad_request("contentJson must be a JSON object")
        records = self.tenant.start_invocations(
            body.get("triggerId"), body.get("input"), content_json=content_json, kind=REAL_TIME
        )
        return Response(200, [{"id": r.id, "subscriptionId": r.subscription_id} for r in records])


def _first(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _oauth_error(status: int, code: str, description: str) -> ApiError:
    return ApiError(status, description, body={"error": code, "error_description": description})


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """client_id and client_secret from an HTTP Basic header (RFC 6749 2.3.1), if one is sent."""
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _oauth_error(401, "invalid_client", "malformed Basic credentials") from None
    client_id, _, client_secret = decoded.partition(":")
    return unquote(client_id), unquote(client_secret)


class _RequestHandler(BaseHTTPRequestHandler):
    """Reads one request, hands it to ``Api``, writes the JSON answer."""

    protocol_version = "HTTP/1.1"
    server_version = "idn-tenant-simulator"
    sys_version = ""
    timeout = 30  # idle keep-alive connections are closed after this many seconds
    wbufsize = -1  # buffer the answer: headers and body leave in one segment (no Nagle/delayed-ACK stall)
    server: SimulatorHTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            self._send(
                Response(411, error_response(411, "send a Content-Length; chunked bodies are not supported"))
            )
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > self.server.api.tenant.config.max_body_bytes:
            self.close_connection = True
            status = 400 if length < 0 else 413
            self._send(Response(status, error_response(status, "invalid or too large Content-Length")))
            return
        body = self.rfile.read(length) if length else b""
        headers = {key: value for key, value in self.headers.items()}
        try:
            response = self.server.api.handle(self.command, self.path, _Headers(headers), body)
        except ConnectionDropped:  # an injected reset: RST instead of an answer (SO_LINGER 0, close)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            return
        self._send(response)

    def _send(self, response: Response) -> None:
        payload = b"" if response.body is None else json.dumps(response.body).encode("utf-8")
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.body is not None:
            self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed HTTP (bad request line, unknown method): still a JSON ErrorResponseDto."""
        self.close_connection = True
        text = message or self.responses.get(code, ("error",))[0]
        with contextlib.suppress(OSError):  # the client may already be gone
            self._send(Response(code, error_response(code, text)))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.info("%s %s %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: %s", format.split("%", maxsplit=1)[0].strip())  # args may echo the request line


class _Headers(dict[str, str]):
    """Case-insensitive header lookup for ``Api`` (HTTP header names are case-insensitive)."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        super().__init__({key.lower(): value for key, value in raw.items()})

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class SimulatorHTTPServer(ThreadingHTTPServer):
    """Threading server that can close its keep-alive connections on shutdown."""

    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 refuses a worker batch's concurrent completions

    def __init__(self, address: tuple[str, int], api: Api) -> None:
        self.api = api
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _RequestHandler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup of the host."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (or a connection closed by stop()) is not an error worth a
        traceback; anything else is reported as socketserver does."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections so they can end."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
