"""The handler author's testing kit: deliver a trigger event to your handler as SailPoint would.

    from idn_local.testing import deliver

    def test_admin_access_is_denied() -> None:
        outcome = deliver("idn:access-request-pre-approval", changes={"requestedItems.0.name": "Admin"})
        assert outcome.status == 200 and outcome.answer["approved"] is False

A delivery runs the code Lambda runs, in this process: the receiver (authentication off, body
parsing and validation, the mode's answer), then, for what the receiver queued, the worker (the
handler again for ASYNC and deferred DYNAMIC deliveries, retries, the completion). The queue and
SailPoint's completion endpoint are in-memory stand-ins: no AWS, no network, a few milliseconds.
The `Outcome` is what SailPoint would see: the HTTP answer, then the completion (output or error).

Handlers come from `package` (default `trigger_handlers`: yours) and read their settings from the
environment, as in Lambda and local mode; `env=` sets variables for one delivery. EXTRA_TRIGGERS
is read from the environment too.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import logging
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from idn_triggers.auth import AuthType, InboundAuthenticator
from idn_triggers.callback import CallbackOutcome, CallbackResult
from idn_triggers.catalogue import TriggerType, known_triggers, trigger_document
from idn_triggers.handlers import package_registry
from idn_triggers.queue import QueuedInvocation
from idn_triggers.receiver import Receiver
from idn_triggers.settings import ReceiverSettings, WorkerSettings
from idn_triggers.worker import RetryLater, Worker

TENANT = "https://kit.api.identitynow.com"
MODES = ("SYNC", "ASYNC", "DYNAMIC")
EXAMPLE_KEYS = ("exampleInput", "exampleInputFromSpecSchema")


@dataclass(frozen=True)
class Completion:
    """What the worker posted to the invocation's callback URL."""

    output: Any = None
    error: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What SailPoint would see of one delivery."""

    trigger_id: str
    mode: str  # SYNC, ASYNC, DYNAMIC, or FIRE_AND_FORGET
    status: int  # the receiver's HTTP answer
    body: Any  # its JSON body
    completion: Completion | None = None  # request-response deliveries the worker completed
    worker_outcomes: tuple[str, ...] = ()  # one per worker attempt: done, retry, dead-letter...
    logs: str = field(default="", repr=False)  # every log line written during the delivery

    @property
    def log_records(self) -> list[dict[str, Any]]:
        """The delivery's log lines, parsed (Powertools writes JSON)."""
        return [json.loads(line) for line in self.logs.splitlines() if line.startswith("{")]

    @property
    def summaries(self) -> list[dict[str, Any]]:
        """The `summarise()` lines handlers wrote: `level` and `summary` (idn_triggers.summaries)."""
        return [r for r in self.log_records if r.get("message") == "trigger event summary"]

    @property
    def answer(self) -> Any:
        """The handler's answer as SailPoint records it: in the HTTP answer, or in the completion."""
        if self.completion is not None:
            return self.completion.output
        return self.body if self.status == 200 and self.mode in MODES else None

    @property
    def error(self) -> str | None:
        """Why SailPoint records no answer: the completion's error, or the refusal's message."""
        if self.completion is not None:
            return self.completion.error
        return str(self.body.get("message") or self.body) if self.status >= 300 else None

    @property
    def what_happened(self) -> str:
        """In words: answered now, deferred then completed by the worker, handled by the worker..."""
        if self.status >= 300 and self.status != 202:
            return f"refused ({self.status})"
        if self.mode == "FIRE_AND_FORGET":
            last = self.worker_outcomes[-1] if self.worker_outcomes else "not run"
            return "handled by the worker" if last == "processed" else f"queued; the worker ended: {last}"
        if self.completion is None:
            return "answered now" if self.mode != "ASYNC" else "acknowledged, never completed"
        verb = "deferred" if self.status == 202 else "acknowledged"
        failed = " with an error" if self.completion.error else ""
        return f"{verb}, completed by the worker{failed}"


def examples(trigger_id: str) -> list[dict[str, Any]]:
    """The catalogue's examples of a trigger's input (the published one, then the spec's)."""
    document = trigger_document(trigger_id)
    return [copy.deepcopy(document[key]) for key in EXAMPLE_KEYS if isinstance(document.get(key), dict)]


def with_changes(payload: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`payload` with each dotted path set (`"requestedItems.0.name": "Admin"`); None removes a key."""
    changed = copy.deepcopy(payload)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node: Any = changed
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(last)] = value
        elif value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return changed


def event_payload(
    trigger_id: str,
    *,
    example: int = 0,
    payload: Mapping[str, Any] | None = None,
    file: str | Path | None = None,
    changes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The input to deliver: `payload`, or a JSON `file`, or the catalogue's example number `example`."""
    if payload is not None:
        base = dict(payload)
    elif file is not None:
        base = json.loads(Path(file).read_text(encoding="utf-8"))
    else:
        found = examples(trigger_id)
        if not 0 <= example < len(found):
            raise ValueError(f"{trigger_id} has {len(found)} catalogue examples; there is no {example}")
        base = found[example]
    return with_changes(base, changes or {})


def default_mode(trigger_id: str) -> str:
    """SYNC for a request-response trigger (in the catalogue or EXTRA_TRIGGERS), else FIRE_AND_FORGET."""
    info = known_triggers().get(trigger_id)
    if info is not None:
        return "SYNC" if info.is_request_response else "FIRE_AND_FORGET"
    extra = ReceiverSettings.model_validate(
        {"INBOUND_AUTH_TYPE": "NO_AUTH", "EXTRA_TRIGGERS": os.environ.get("EXTRA_TRIGGERS", "")}
    ).extra_triggers.get(trigger_id)
    return "SYNC" if extra is TriggerType.REQUEST_RESPONSE else "FIRE_AND_FORGET"


class _Queue:
    def __init__(self) -> None:
        self.sent: list[QueuedInvocation] = []

    def send(self, message: QueuedInvocation) -> str:
        self.sent.append(message)
        return f"kit-{len(self.sent)}"


class _Sqs:
    """The worker's SQS calls (delays, requeues, dead letters), kept, never sent."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def send_message(self, *args: Any, **kwargs: Any) -> dict[str, str]:
        self.calls.append(kwargs)
        return {"MessageId": f"kit-{len(self.calls)}"}

    def change_message_visibility(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(kwargs)


class _Callbacks:
    """SailPoint's completion endpoint: accepts the first completion, as SailPoint does."""

    def __init__(self) -> None:
        self.completions: list[Completion] = []

    def complete(
        self, callback_url: str, secret: str, /, *, output: Any = None, error: str | None = None
    ) -> CallbackResult:
        self.completions.append(Completion(output, error))
        return CallbackResult(CallbackOutcome.COMPLETED, "HTTP 204", status=204)


def _record(message: QueuedInvocation, receive_count: int) -> dict[str, Any]:
    """The SQS record Lambda's event source mapping would hand the worker."""
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "kit",
        "body": message.model_dump_json(),
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
        "messageAttributes": message.lambda_record_attributes(),
        "eventSource": "aws:sqs",
    }


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    from idn_local.functions import forget_handler_settings

    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    forget_handler_settings()  # cached handler settings read this delivery's environment
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        forget_handler_settings()


class _OnceHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each record once, though it sits on the service logger and on the root logger."""

    def emit(self, record: logging.LogRecord) -> None:
        if not getattr(record, "_kit_seen", False):
            record._kit_seen = True
            super().emit(record)


@contextmanager
def _captured_logs() -> Iterator[io.StringIO]:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    Logger()  # the service logger's first set-up replaces handlers: do it before adding ours
    stream = io.StringIO()
    handler = _OnceHandler(stream)
    handler.setFormatter(LambdaPowertoolsFormatter())
    names = {"", os.environ.get("POWERTOOLS_SERVICE_NAME", "service_undefined")}
    loggers = [logging.getLogger(name) for name in names]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield stream
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def deliver(
    trigger_id: str,
    *,
    mode: str | None = None,
    example: int = 0,
    payload: Mapping[str, Any] | None = None,
    file: str | Path | None = None,
    changes: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    package: str = "trigger_handlers",
) -> Outcome:
    """Deliver one event to the handler of `trigger_id` and run it to the end, as Lambda would.

    `mode`: SYNC (default for request-response triggers), ASYNC or DYNAMIC; fire-and-forget
    triggers have none. Input: `payload`, a JSON `file`, or catalogue example number `example`,
    with `changes` (dotted paths) applied. `env`: handler settings for this delivery only.
    `package`: the handlers package (the product's own tests pass theirs).
    """
    body = event_payload(trigger_id, example=example, payload=payload, file=file, changes=changes)
    mode = (mode or default_mode(trigger_id)).upper()
    if mode in ("ASYNC", "DYNAMIC"):
        invocation = str(uuid.uuid4())
        body["_metadata"] = {
            "callbackURL": f"{TENANT}/trigger-invocations/v1/{invocation}/complete",
            "secret": uuid.uuid4().hex,
            "responseMode": mode,
            "triggerId": trigger_id,
            "triggerType": "REQUEST_RESPONSE",
        }
    with _environment(env or {}), _captured_logs() as logs:
        outcome = _run(trigger_id, mode, body, package)
    return dataclasses.replace(outcome, logs=logs.getvalue())


def _run(trigger_id: str, mode: str, body: dict[str, Any], package: str) -> Outcome:
    registry = package_registry(package)
    common = {
        "TENANT_API_URL": TENANT,
        "HANDLERS_PACKAGE": package,
        "EXTRA_TRIGGERS": os.environ.get("EXTRA_TRIGGERS", ""),
    }
    receiver_settings = ReceiverSettings.from_env({**common, "INBOUND_AUTH_TYPE": AuthType.NO_AUTH.value})
    queue = _Queue()
    receiver = Receiver(receiver_settings, InboundAuthenticator(AuthType.NO_AUTH, None), registry, queue)
    response = receiver.receive(trigger_id, {"Content-Type": "application/json"}, json.dumps(body))
    answered = json.loads(response.json_body())
    worker_settings = WorkerSettings.from_env(
        {
            **common,
            "SAILPOINT_CLIENT_SECRET_ID": "kit",
            "TOKEN_SECRET_ID": "kit",
            "IDEMPOTENCY_TABLE": "kit",
            "WORK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/kit",
            "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/kit-dlq",
        }
    )
    callbacks = _Callbacks()
    worker = Worker(worker_settings, registry, callbacks, _Sqs())
    outcomes: list[str] = []
    for message in queue.sent:
        for receive_count in range(1, worker_settings.max_receive_count + 1):
            try:
                outcomes.append(str(worker.process_record(_record(message, receive_count))))
                break
            except RetryLater:
                outcomes.append("retry")
    completion = callbacks.completions[0] if callbacks.completions else None
    shown = "FIRE_AND_FORGET" if default_mode(trigger_id) == "FIRE_AND_FORGET" else mode
    return Outcome(trigger_id, shown, response.status_code, answered, completion, tuple(outcomes))
