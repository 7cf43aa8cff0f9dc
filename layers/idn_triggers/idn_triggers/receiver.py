"""The receiver's logic: authenticate, parse, route, dispatch; one answer for every input.

`Receiver.receive` never raises for anything a caller can send: expected failures become their
TriggerError's status and message, and an unexpected failure inside the user's handler becomes the
one documented 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ValidationError

from idn_triggers.auth import InboundAuthenticator, SecretsManagerCredentials
from idn_triggers.catalogue import TriggerInfo, configured_trigger, known_triggers
from idn_triggers.envelope import Delivery, ResponseMode, split_envelope
from idn_triggers.errors import (
    HandlerFailed,
    InvalidHandlerOutput,
    InvalidPayload,
    MalformedBody,
    TriggerError,
    UnknownTrigger,
    UnsupportedResponseMode,
)
from idn_triggers.handlers import HandlerContext, HandlerRegistry, TriggerHandler
from idn_triggers.settings import ReceiverSettings

logger = Logger()  # same service name as the function's Logger, so they share one handler


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


def decode_body(body: str | None, is_base64: bool) -> dict[str, Any]:
    """The request body as a JSON object, or MalformedBody saying what is wrong with it."""
    if body is None or body == "":
        raise MalformedBody("request body is empty; expected a JSON object")
    try:
        raw = base64.b64decode(body, validate=True) if is_base64 else body.encode("utf-8", "strict")
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeError):
        raise MalformedBody("request body is not valid UTF-8") from None
    try:
        parsed = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        position = (
            f" at line {error.lineno} column {error.colno}" if isinstance(error, json.JSONDecodeError) else ""
        )
        raise MalformedBody(f"request body is not valid JSON{position}") from None
    if not isinstance(parsed, dict):
        raise MalformedBody("request body must be a JSON object")
    return parsed


class Receiver:
    """One per container: holds the authenticator, the enabled triggers and the handler registry."""

    def __init__(
        self, settings: ReceiverSettings, authenticator: InboundAuthenticator, registry: HandlerRegistry
    ):
        self.settings = settings
        self.authenticator = authenticator
        self.registry = registry

    @classmethod
    def from_settings(cls, settings: ReceiverSettings, registry: HandlerRegistry) -> Receiver:
        credentials = None
        if settings.secret_id:
            credentials = SecretsManagerCredentials(
                settings.secret_id, settings.auth_type, settings.secret_max_age_seconds
            )
        return cls(settings, InboundAuthenticator(settings.auth_type, credentials), registry)

    def trigger(self, trigger_id: str) -> TriggerInfo:
        """The trigger if this receiver serves it: in the catalogue (or configured), enabled, handled."""
        info = known_triggers().get(trigger_id)
        if info is None and trigger_id in self.settings.extra_triggers:
            info = configured_trigger(trigger_id, self.settings.extra_triggers[trigger_id])
        if (
            info is None
            or not self.settings.is_enabled(trigger_id)
            or trigger_id not in self.registry.trigger_ids()
        ):
            raise UnknownTrigger("no such trigger on this receiver; check the subscription URL")
        return info

    def receive(
        self, trigger_id: str, headers: Mapping[str, str] | None, body: str | None, *, is_base64: bool = False
    ) -> ReceiverResponse:
        info: TriggerInfo | None = None
        delivery: Delivery | None = None
        try:
            self.authenticator.authenticate(headers)
            info = self.trigger(trigger_id)
            delivery = split_envelope(trigger_id, decode_body(body, is_base64))
            if delivery.invocation_id:
                logger.set_correlation_id(delivery.invocation_id)
            return self._dispatch(info, delivery)
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
            return ReceiverResponse(
                status_code=error.status_code,
                body=error.public_body(),
                trigger_id=info.id if info else "unknown",  # never an unvetted path value
                outcome=error.outcome,
                mode=delivery.response_mode.value if delivery else "UNKNOWN",
                invocation_id=delivery.invocation_id if delivery else None,
            )

    def _dispatch(self, info: TriggerInfo, delivery: Delivery) -> ReceiverResponse:
        mode = delivery.response_mode
        if mode is not ResponseMode.SYNC:
            raise UnsupportedResponseMode(
                f"responseMode {mode.value} is not supported by this receiver; subscribe with SYNC"
            )
        handler = self.registry.get(info.id)
        assert handler is not None  # trigger() checked the registry
        event = self._parse_input(handler, delivery)
        context = HandlerContext(trigger_id=info.id, response_mode=mode, invocation_id=delivery.invocation_id)
        output = self._run(handler, event, context)
        body: Any = output if info.is_request_response else {}
        return ReceiverResponse(200, body, info.id, "answered", mode.value, delivery.invocation_id)

    @staticmethod
    def _parse_input(handler: TriggerHandler, delivery: Delivery) -> BaseModel:
        try:
            return handler.input_model.model_validate(delivery.payload)
        except ValidationError as error:
            raise InvalidPayload.from_pydantic(
                f"payload does not match the {delivery.trigger_id} input model", error.errors()
            ) from None

    @staticmethod
    def _run(handler: TriggerHandler, event: BaseModel, context: HandlerContext) -> Any:
        """Run the user's handler and return its answer as validated JSON-ready data."""
        try:
            result = handler(event, context)
        except Exception:
            logger.exception("trigger handler raised", extra={"trigger_id": handler.trigger_id})
            raise HandlerFailed() from None
        return validate_output(handler, result)


def validate_output(handler: TriggerHandler, result: Any) -> Any:
    """Re-validate the handler's answer against its output model before it can leave."""
    if handler.output_model is None:
        return None
    if result is None:
        if handler.output_optional:
            return None
        logger.error("trigger handler returned no answer", extra={"trigger_id": handler.trigger_id})
        raise InvalidHandlerOutput()
    # warnings=False: pydantic's serializer warnings quote the offending values (PII) into logs.
    data = (
        result.model_dump(mode="json", by_alias=True, warnings=False)
        if isinstance(result, BaseModel)
        else result
    )
    try:
        return handler.output_model.model_validate(data).model_dump(mode="json", by_alias=True)
    except ValidationError as error:
        fields = [".".join(str(p) for p in e["loc"]) or "(answer)" for e in error.errors()]
        logger.error(
            "trigger handler answer fails its model",
            extra={"trigger_id": handler.trigger_id, "fields": fields},
        )
        raise InvalidHandlerOutput() from None
