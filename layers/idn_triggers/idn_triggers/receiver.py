"""The receiver's logic: authenticate, parse, route, dispatch; one answer for every input.

`Receiver.receive` never raises for anything a caller can send: expected failures become their
TriggerError's status and message, and an unexpected failure inside the user's handler becomes the
one documented 500.

The HTTP-facing part reads API Gateway's REST proxy event directly: the receiver has one route, and
Powertools' REST resolver costs more cold start (its package imports every resolver and asyncio) than
the few lines below. The queue contract is imported on the first enqueue: a SYNC answer never needs it.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from idn_triggers.auth import InboundAuthenticator, SecretsManagerCredentials
from idn_triggers.aws_clients import BuiltOnce
from idn_triggers.catalogue import TriggerInfo, configured_trigger, known_triggers
from idn_triggers.envelope import Delivery, ResponseMode, callback_url_problem, split_envelope
from idn_triggers.errors import (
    HandlerFailed,
    HandlerLate,
    InvalidHandlerOutput,
    InvalidPayload,
    MalformedBody,
    PayloadTooLarge,
    QueueUnavailable,
    TriggerError,
    UnknownTrigger,
    UnsupportedResponseMode,
)
from idn_triggers.failure_policy import HandlerTimedOut, run_with_deadline
from idn_triggers.handlers import DEFER, HandlerContext, HandlerRegistry, TriggerHandler
from idn_triggers.ports import Authenticator, DeliveryRecorder, InvocationQueue
from idn_triggers.settings import ReceiverSettings

if TYPE_CHECKING:
    from idn_triggers.queue import QueuedInvocation

logger = Logger()  # same service name as the function's Logger, so they share one handler

ROUTE = "/triggers/{triggerId}"  # the one route template.yaml gives the receiver
# What Powertools' REST resolver answered for any other method or path; kept byte for byte.
_ROUTE_PATH = re.compile(r"^/triggers/[^/]+$")
NOT_FOUND_BODY = json.dumps({"statusCode": 404, "message": "Not found"}, separators=(",", ":"))


def routed_trigger_id(event: Mapping[str, Any]) -> str | None:
    """The URL-decoded `triggerId` of a `POST /triggers/{triggerId}` proxy event, or None for any
    other method or route (API Gateway itself answers 403 for routes it does not have)."""
    if str(event.get("httpMethod") or "").upper() != "POST" or event.get("resource") != ROUTE:
        return None
    if not _ROUTE_PATH.match(str(event.get("path") or "")):  # the path API Gateway matched to ROUTE
        return None
    parameters = event.get("pathParameters")
    trigger_id = parameters.get("triggerId") if isinstance(parameters, Mapping) else None
    return unquote(trigger_id) if isinstance(trigger_id, str) and trigger_id else None


def request_parts(event: Mapping[str, Any]) -> tuple[Mapping[str, str], str | None, bool]:
    """Headers (matched case-insensitively by the authenticator), body and its base64 flag."""
    headers = event.get("headers")
    body = event.get("body")
    return (
        headers if isinstance(headers, Mapping) else {},
        body if isinstance(body, str) else None,
        bool(event.get("isBase64Encoded")),
    )


def proxy_response(status_code: int, body: str) -> dict[str, Any]:
    """A REST proxy answer, in the shape Powertools' resolver gave it (JSON, not base64)."""
    return {
        "statusCode": status_code,
        "body": body,
        "isBase64Encoded": False,
        "multiValueHeaders": {"Content-Type": ["application/json"]},
    }


@dataclass(frozen=True, slots=True)
class ReceiverResponse:
    """What goes back to SailPoint, plus labels for logs and metrics."""

    status_code: int
    body: Any
    trigger_id: str
    outcome: str
    mode: str = "UNKNOWN"
    invocation_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def json_body(self) -> str:
        return json.dumps(self.body, separators=(",", ":"))


def decode_body(body: str | None, is_base64: bool, max_bytes: int | None = None) -> dict[str, Any]:
    """The request body as a JSON object, or MalformedBody saying what is wrong with it.

    A body over `max_bytes` (decoded size) is PayloadTooLarge before any decoding or parsing.
    """
    if body is None or body == "":
        raise MalformedBody("request body is empty; expected a JSON object")
    if max_bytes is not None:  # a cheap lower bound first: base64 decodes to ~3/4, a char is >= 1 byte
        least = len(body) // 4 * 3 - 2 if is_base64 else len(body)
        if least > max_bytes:
            raise _too_large(max_bytes)
    try:
        raw = base64.b64decode(body, validate=True) if is_base64 else body.encode("utf-8", "strict")
        text = raw.decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeError, and b64decode's ValueError for non-ASCII input
        raise MalformedBody("request body is not valid UTF-8") from None
    if max_bytes is not None and len(raw) > max_bytes:
        raise _too_large(max_bytes)
    try:
        parsed = json.loads(
            text, parse_int=_int, parse_float=_float, parse_constant=_no_constant, object_pairs_hook=_object
        )
    except (json.JSONDecodeError, RecursionError) as error:
        position = (
            f" at line {error.lineno} column {error.colno}" if isinstance(error, json.JSONDecodeError) else ""
        )
        raise MalformedBody(f"request body is not valid JSON{position}") from None
    if not isinstance(parsed, dict):
        raise MalformedBody("request body must be a JSON object")
    if ("\\u" in text or _UNSTORABLE.search(text)) and _has_unstorable(parsed):
        raise MalformedBody("request body holds a lone surrogate or a noncharacter (U+FFFE/U+FFFF)")
    if _deeper_than(parsed, MAX_JSON_DEPTH):
        raise MalformedBody(f"request body nests deeper than {MAX_JSON_DEPTH} levels")
    return parsed


# What JSON allows but no storable answer exists for is refused with 400, never stored changed:
# integers past Python's int-conversion limit (4,300 digits; it raised ValueError: a 502), NaN and
# Infinity (not JSON: RFC 8259), numbers that overflow to infinity (1e999), and duplicate keys
# (parsers disagree on which one wins, so SailPoint's filter and our handler could see different
# payloads).
MAX_INT_DIGITS = 4300


def _int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_INT_DIGITS:
        raise MalformedBody(f"request body holds an integer longer than {MAX_INT_DIGITS} digits")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise MalformedBody("request body holds a number too large for a 64-bit float")
    return value


def _no_constant(text: str) -> Any:
    raise MalformedBody("request body holds NaN or Infinity, which JSON does not allow")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise MalformedBody("request body has a duplicate key in one object")
    return result


# SailPoint's payloads nest a few levels; pydantic cannot serialize (queue) much past 250.
MAX_JSON_DEPTH = 64


def _deeper_than(value: dict[str, Any], limit: int) -> bool:
    """Whether objects and arrays nest deeper than `limit` (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False


# JSON may escape lone surrogates ("\ud800"): they cannot be encoded as UTF-8, so hashing or queueing
# such a payload would crash; SQS also refuses U+FFFE and U+FFFF.
_UNSTORABLE = re.compile("[\ud800-\udfff\ufffe\uffff]")


def _has_unstorable(parsed: dict[str, Any]) -> bool:
    try:
        return _UNSTORABLE.search(json.dumps(parsed, ensure_ascii=False)) is not None
    except RecursionError:
        return True


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than the receiver's limit of {max_bytes} bytes")


class DeferredQueueSender:
    """The work queue's sender, built (with the queue contract's models) on the first enqueue."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url
        self._sender: BuiltOnce[InvocationQueue] = BuiltOnce(self._build)

    def _build(self) -> InvocationQueue:
        from idn_triggers.queue import QueueSender

        return QueueSender(self.queue_url)

    def send(self, message: QueuedInvocation) -> str:
        return self._sender.get().send(message)

    def drop_connections(self) -> None:
        """Forget the SQS client (and its pooled connections); the next send builds a new one."""
        self._sender.reset()


class Receiver:
    """One per container: holds the authenticator, the enabled triggers and the handler registry."""

    def __init__(
        self,
        settings: ReceiverSettings,
        authenticator: Authenticator,
        registry: HandlerRegistry,
        queue: InvocationQueue | None = None,
        archive: DeliveryRecorder | None = None,
    ):
        self.settings = settings
        self.authenticator = authenticator
        self.registry = registry
        self.queue = queue
        self.archive = archive  # what the receiver answers itself; the worker archives what it runs

    @classmethod
    def from_settings(cls, settings: ReceiverSettings, registry: HandlerRegistry) -> Receiver:
        credentials = None
        if settings.secret_id:
            credentials = SecretsManagerCredentials(
                settings.secret_id, settings.auth_type, settings.secret_max_age_seconds
            )
        queue = DeferredQueueSender(settings.queue_url) if settings.queue_url else None
        archive = None
        if settings.archive_bucket:  # imported only when on: the archive brings boto3 (S3)
            from idn_triggers.archive import ArchiveRecorder

            archive = ArchiveRecorder.for_bucket(settings.archive_bucket, quick=True)
        return cls(settings, InboundAuthenticator(settings.auth_type, credentials), registry, queue, archive)

    def warm(self) -> None:
        """Do now what the first request would: read the catalogue, import every enabled trigger's
        handler module and models, the queue contract and boto3 (SnapStart's before-snapshot hook)."""
        served = [*known_triggers(), *self.settings.extra_triggers]
        for trigger_id in sorted(served):
            if self.settings.is_enabled(trigger_id) and self.registry.has_handler(trigger_id):
                self.registry.get(trigger_id)
        if self.queue is not None:
            import idn_triggers.queue  # noqa: F401
        if self.queue is not None or self.settings.secret_id:
            import boto3  # noqa: F401
            from aws_lambda_powertools.utilities import parameters  # noqa: F401

    def renew_after_restore(self) -> None:
        """Forget cached credentials and SDK connections (SnapStart's after-restore hook): a restored
        copy reads the secret anew and opens its own connections."""
        self.authenticator.forget_cached_credentials()
        if isinstance(self.queue, DeferredQueueSender):
            self.queue.drop_connections()

    def trigger(self, trigger_id: str) -> TriggerInfo:
        """The trigger if this receiver serves it: in the catalogue (or configured), enabled, handled."""
        info = known_triggers().get(trigger_id)
        if info is None and trigger_id in self.settings.extra_triggers:
            info = configured_trigger(trigger_id, self.settings.extra_triggers[trigger_id])
        if (
            info is None
            or not self.settings.is_enabled(trigger_id)
            or not self.registry.has_handler(trigger_id)
        ):
            raise UnknownTrigger("no such trigger on this receiver; check the subscription URL")
        return info

    def receive(
        self, trigger_id: str, headers: Mapping[str, str] | None, body: str | None, *, is_base64: bool = False
    ) -> ReceiverResponse:
        info: TriggerInfo | None = None
        delivery: Delivery | None = None
        received_at = datetime.now(UTC) if self.archive is not None else None
        try:
            self.authenticator.authenticate(headers)
            info = self.trigger(trigger_id)
            delivery = split_envelope(trigger_id, decode_body(body, is_base64, self.settings.max_body_bytes))
            if delivery.invocation_id:
                logger.set_correlation_id(delivery.invocation_id)
            response = self._dispatch(info, delivery)
            if received_at is not None and response.outcome == "answered":
                self._archive(info, delivery, response, received_at)
            return response
        except TriggerError as error:
            log = logger.error if error.status_code >= 500 else logger.warning
            log(
                "trigger delivery refused",
                extra={
                    "reason": str(error),
                    "status": error.status_code,
                    "outcome": error.outcome,
                    "details": error.details,
                },
            )
            refused = ReceiverResponse(
                status_code=error.status_code,
                body=error.public_body(),
                trigger_id=info.id if info else "unknown",  # never an unvetted path value
                outcome=error.outcome,
                mode=delivery.response_mode.value if delivery else "UNKNOWN",
                invocation_id=delivery.invocation_id if delivery else None,
            )
            if (
                received_at is not None
                and info is not None
                and delivery is not None
                and isinstance(error, (HandlerFailed, InvalidHandlerOutput))
            ):  # accepted, then the handler failed: kept, so it can be replayed once fixed
                self._archive(info, delivery, refused, received_at)
            return refused

    def _archive(
        self, info: TriggerInfo, delivery: Delivery, response: ReceiverResponse, received_at: datetime
    ) -> None:
        """Keep what this receiver answered itself; a failure is the recorder's metric, never the answer's."""
        assert self.archive is not None
        try:
            from idn_triggers.archive import answered_record

            record = answered_record(
                trigger_id=info.id,
                trigger_type=info.type,
                mode=delivery.response_mode,
                invocation_id=delivery.invocation_id,
                payload=delivery.payload,
                status_code=response.status_code,
                outcome=response.outcome,
                answer=response.body if response.status_code == 200 else None,
                received_at=received_at,
                finished_at=datetime.now(UTC),
            )
            self.archive.record(record)
        except Exception as error:  # never let keeping a record change what SailPoint receives
            logger.warning("delivery not archived", extra={"error_type": type(error).__name__})

    def _dispatch(self, info: TriggerInfo, delivery: Delivery) -> ReceiverResponse:
        """Validate, then answer now (SYNC, DYNAMIC answered) or queue and acknowledge."""
        handler = self.registry.get(info.id)
        assert handler is not None  # trigger() checked the registry
        event = handler.parse_input(delivery.payload)  # nothing invalid is ever acknowledged
        mode = delivery.response_mode
        if not info.is_request_response:
            return self._enqueue(info, delivery, 200, "queued")
        if mode is not ResponseMode.SYNC:
            self._check_callback(delivery)
        if mode is ResponseMode.ASYNC:
            return self._enqueue(info, delivery, 200, "queued")
        context = HandlerContext(
            info.id, mode, delivery.invocation_id, can_defer=mode is ResponseMode.DYNAMIC
        )
        try:
            result = self._run(handler, event, context, self.settings.answer_seconds)
            if result is DEFER:
                return self._enqueue(info, delivery, 202, "deferred")
            output = handler.validated_output(result)
        except (HandlerFailed, InvalidHandlerOutput):
            fallback = self._fallback(handler, info.id)
            if fallback is None:
                raise
            return ReceiverResponse(200, fallback, info.id, "fallback", mode.value, delivery.invocation_id)
        return ReceiverResponse(200, output, info.id, "answered", mode.value, delivery.invocation_id)

    def _fallback(self, handler: TriggerHandler, trigger_id: str) -> Any:
        """The configured fallback answer (FAILURE_POLICIES), validated; None under the `error` policy."""
        fallback = self.settings.failure_policies.get(trigger_id)
        if fallback is None:
            return None
        try:
            answer = handler.validated_output(fallback)
        except InvalidHandlerOutput:
            logger.error(
                "the configured fallback answer is invalid; answering the error",
                extra={"trigger_id": trigger_id},
            )
            return None
        logger.warning("answered the trigger's fallback (FAILURE_POLICIES)", extra={"trigger_id": trigger_id})
        return answer

    def _check_callback(self, delivery: Delivery) -> None:
        url = delivery.metadata.callback_url if delivery.metadata else None
        problem = (
            "callbackURL is required"
            if not url
            else callback_url_problem(url, self.settings.tenant_api_url, self.settings.allow_http_callbacks)
        )
        if problem:
            raise InvalidPayload(
                "_metadata is invalid", details=[{"field": "_metadata.callbackURL", "problem": problem}]
            )

    def _enqueue(self, info: TriggerInfo, delivery: Delivery, status: int, outcome: str) -> ReceiverResponse:
        """Store the invocation for the worker; only then acknowledge it (SailPoint never resends)."""
        if self.queue is None:
            raise UnsupportedResponseMode("this receiver has no work queue; subscribe with SYNC")
        from idn_triggers.queue import MAX_QUEUED_PAYLOAD_BYTES, queued_invocation

        message = queued_invocation(delivery, info.type, self.settings.response_deadline)
        if len(message.model_dump_json()) > MAX_QUEUED_PAYLOAD_BYTES:
            raise PayloadTooLarge(
                f"payload is larger than the {MAX_QUEUED_PAYLOAD_BYTES // 1024} KiB that can be queued"
            )
        try:
            self.queue.send(message)
        except Exception as error:  # any SQS or network failure: refuse rather than lose the event
            logger.error(
                "could not queue the invocation",
                extra={**message.log_fields(), "error_type": type(error).__name__},
            )
            raise QueueUnavailable() from None
        logger.info("invocation queued", extra=message.log_fields())
        mode = delivery.response_mode.value if info.is_request_response else "FIRE_AND_FORGET"
        return ReceiverResponse(status, {}, info.id, outcome, mode, message.invocation_id)

    @staticmethod
    def _run(handler: TriggerHandler, event: BaseModel, context: HandlerContext, seconds: float) -> Any:
        """Run the user's handler under the watchdog (`seconds`); its answer (or DEFER) is checked by
        the caller. Late counts as failed: SailPoint must get an answer before its 10 s."""
        try:
            result = run_with_deadline(lambda: handler(event, context), seconds)
        except HandlerTimedOut:
            logger.error(
                "trigger handler did not answer in time",
                extra={"trigger_id": handler.trigger_id, "answer_seconds": seconds},
            )
            raise HandlerLate() from None
        except Exception:
            logger.exception("trigger handler raised", extra={"trigger_id": handler.trigger_id})
            raise HandlerFailed() from None
        if result is DEFER and not context.can_defer:
            logger.error(
                "trigger handler deferred a delivery that cannot be deferred",
                extra={"trigger_id": handler.trigger_id, "mode": context.response_mode.value},
            )
            raise InvalidHandlerOutput()
        return result
