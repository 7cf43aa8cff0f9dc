"""What every fuzzed request must satisfy, and the receiver function run in-process to check it.

The receiver's `lambda_handler` is cold-started from functions/receiver/app.py as Lambda would, then
given an in-memory credential and a fake queue (no AWS at all), so a request costs well under a
millisecond and a deep run can afford tens of thousands of them.

The invariants (`check`):
- no exception escapes the handler (API Gateway would answer 502);
- no 5xx, except the documented handler-failure 500s (the queue and the secret never fail here,
  so 503 is a finding too);
- every answer is JSON; every 4xx is an object with a string `message`;
- no generated string of 8 characters or more is echoed in the answer (payload values are PII).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from idn_triggers.auth import AuthType, InboundAuthenticator, InboundSecret
from idn_triggers.queue import QueuedInvocation
from tests.support import FakeLambdaContext, load_function

TENANT = "https://acme.api.identitynow.com"
BEARER = "fuzz-inbound-bearer-4f1c9a"
AUTHORIZATION = f"Bearer {BEARER}"
ECHO_MIN_LENGTH = 8
# The bodies of the documented 500s (errors.HandlerFailed, errors.InvalidHandlerOutput).
DOCUMENTED_500 = {
    "the trigger handler failed; see the receiver's logs",
    "the trigger handler produced an invalid answer; see the receiver's logs",
}


# SQS accepts these characters only (SendMessage documentation), in bodies and attribute values.
def _sqs_storable(c: str) -> bool:
    return c in "\t\n\r" or "\x20" <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c >= "\U00010000"


SQS_MAX_BYTES = 256 * 1024


class FuzzFinding(AssertionError):
    """An invariant broken by a generated request."""


class StrictFakeQueue:
    """Records what the receiver would send, refusing what real SQS would refuse (moto does not).

    A refusal makes the receiver answer 503, which `check` reports: the receiver must turn such
    input into a 4xx before it reaches the queue.
    """

    def __init__(self) -> None:
        self.sent = 0
        self.refused: Counter[str] = Counter()
        self._lock = threading.Lock()

    def send(self, message: QueuedInvocation) -> str:
        body = message.model_dump_json()
        attributes = {"triggerId": message.trigger_id, "invocationId": message.invocation_id}
        size = len(body.encode()) + sum(len(k) + len(v.encode()) for k, v in attributes.items())
        problem = None
        if size > SQS_MAX_BYTES:
            problem = "message over 256 KiB"
        elif not all(_sqs_storable(c) for c in body):
            problem = "body character SQS refuses"
        elif not all(_sqs_storable(c) for value in attributes.values() for c in value):
            problem = "attribute character SQS refuses"
        with self._lock:
            if problem:
                self.refused[problem] += 1
                STATS.queue_refusals[problem] += 1
                raise ValueError(f"SQS would refuse this message: {problem}")
            self.sent += 1
        return f"m-{self.sent}"


@dataclass
class Stats:
    """Totals for the closing summary (tests/fuzz/conftest.py prints them)."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0
    documented_500: int = 0
    by_source: Counter[str] = field(default_factory=Counter)
    queue_refusals: Counter[str] = field(default_factory=Counter)

    def record(self, source: str, status: int, body: Any) -> None:
        self.requests += 1
        self.by_source[source] += 1
        self.statuses[status] += 1
        if status >= 500:
            if status == 500 and isinstance(body, dict) and body.get("message") in DOCUMENTED_500:
                self.documented_500 += 1
            else:
                self.server_errors += 1


STATS = Stats()


def strings_in(value: Any) -> Iterator[str]:
    """Every string (keys included) inside a JSON-like value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                yield key
            yield from strings_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_in(item)


def _vocabulary() -> frozenset[str]:
    """Every string of the published schemas (field names, enum values, examples): a generator that
    draws from a schema sends them, and error answers legitimately name fields and allowed values."""
    import yaml

    from idn_triggers.catalogue import known_triggers
    from tests.support import ROOT, trigger_document

    words: set[str] = set()
    for trigger_id in known_triggers():
        document = trigger_document(trigger_id)
        words.update(strings_in([document.get("inputSchema"), document.get("outputSchema")]))
    words.update(strings_in(yaml.safe_load((ROOT / "docs" / "receiver-openapi.yaml").read_text())))
    return frozenset(words)


VOCABULARY = _vocabulary()


# The receiver's own words besides the schemas': `_metadata` and its keys, the error shape's keys.
OWN_WORDS = (
    "_metadata",
    "callbackURL",
    "responseMode",
    "triggerType",
    "invocationId",
    "triggerId",
    "problem",
)


def _without_own_words(answer_text: str) -> str:
    """The answer with every schema or receiver word blanked out, longest first, so that a generated
    string that only straddles one (`etadata"` in `"_metadata"`) is not taken for an echo."""
    for word in sorted({*OWN_WORDS, *(w for w in VOCABULARY if len(w) >= 4)}, key=len, reverse=True):
        if word in answer_text:
            answer_text = answer_text.replace(word, "\0")
    return answer_text


def echoed(tainted: Iterable[str], answer_text: str) -> list[str]:
    """The tainted strings (>= 8 characters, not schema words) found in the answer, raw or as JSON
    escapes them, other than inside the schemas' and the receiver's own words."""
    found = []
    for value in set(tainted):
        if len(value) < ECHO_MIN_LENGTH or value in VOCABULARY:
            continue
        escaped = json.dumps(value)[1:-1]
        if value in answer_text or escaped in answer_text:
            found.append(value)
    if found:  # rare: only then is the answer searched again without its own words
        masked = _without_own_words(answer_text)
        found = [v for v in found if v in masked or json.dumps(v)[1:-1] in masked]
    return found


def check(source: str, status: int, body_text: str, tainted: Iterable[str]) -> Any:
    """Assert the invariants on one answer; returns the decoded body."""
    try:
        body = json.loads(body_text) if body_text else None
    except ValueError:
        raise FuzzFinding(f"{source}: answer {status} is not JSON: {body_text[:200]!r}") from None
    STATS.record(source, status, body)
    if status >= 500 and not (
        status == 500 and isinstance(body, dict) and body.get("message") in DOCUMENTED_500
    ):
        raise FuzzFinding(f"{source}: undocumented {status}: {body_text[:300]}")
    if 400 <= status < 500 and not (isinstance(body, dict) and isinstance(body.get("message"), str)):
        raise FuzzFinding(f"{source}: {status} without a message: {body_text[:300]}")
    leaked = echoed(tainted, body_text)
    if leaked:
        raise FuzzFinding(f"{source}: {status} echoes input {leaked[:3]!r}: {body_text[:300]}")
    return body


class InProcessReceiver:
    """functions/receiver/app.py, cold-started with throw-away configuration, credential in memory."""

    def __init__(self) -> None:
        self.queue = StrictFakeQueue()
        self.module = self._cold_start()

    def _cold_start(self) -> ModuleType:
        environment = {
            "INBOUND_AUTH_TYPE": "BEARER_TOKEN",
            "INBOUND_SECRET_ID": "fuzz-inbound-secret",  # never read: the credential is in memory
            "WORK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/fuzz",  # never used
            "TENANT_API_URL": TENANT,
            "PRODUCT_TEST_REVIEW_ITEMS": "Engineering Access",  # DYNAMIC deliveries defer, others answer
        }
        saved = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
        try:
            module = load_function("receiver")
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        secret = InboundSecret.model_validate({"bearerToken": BEARER})
        module.receiver.authenticator = InboundAuthenticator(AuthType.BEARER_TOKEN, lambda: secret)
        module.receiver.queue = self.queue
        return module

    def invoke(self, event: dict[str, Any]) -> tuple[int, str]:
        """Call the handler like Lambda; an exception escaping it is a finding (502 at API Gateway)."""
        try:
            response = self.module.lambda_handler(event, FakeLambdaContext())
        except Exception as error:
            raise FuzzFinding(
                f"the handler raised {type(error).__name__}: API Gateway answers 502"
            ) from error
        if not isinstance(response, dict) or not isinstance(response.get("statusCode"), int):
            raise FuzzFinding(f"not a proxy response: {str(response)[:200]}")
        body = response.get("body") or ""
        if response.get("isBase64Encoded"):
            body = base64.b64decode(body).decode("utf-8")
        return response["statusCode"], body


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Hold the function's logger at CRITICAL while fuzzing (every refusal logs a warning), then
    restore it; metrics lines still print (captured by pytest)."""
    names = [os.environ.get("POWERTOOLS_SERVICE_NAME", "service_undefined"), "idn_triggers"]
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def proxy_event(
    *,
    method: str = "POST",
    path: str,
    headers: dict[str, str] | None,
    multi_value_headers: dict[str, list[str]] | None = None,
    body: str | None,
    is_base64: bool = False,
) -> dict[str, Any]:
    """An API Gateway REST proxy event as the receiver gets it (resource and path parameters too)."""
    trigger = path.removeprefix("/triggers/") if path.startswith("/triggers/") else None
    if multi_value_headers is None and headers is not None:
        multi_value_headers = {key: [value] for key, value in headers.items()}
    return {
        "resource": "/triggers/{triggerId}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_value_headers,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"triggerId": trigger} if trigger else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/triggers/{triggerId}",
            "httpMethod": method,
            "path": f"/v1{path}",
            "stage": "v1",
            "protocol": "HTTP/1.1",
            "requestId": "fuzz-request",
            "accountId": "123456789012",
            "apiId": "fuzz",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }
