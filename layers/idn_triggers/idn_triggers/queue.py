"""The queue contract between receiver and worker, and the receiver's side of SQS.

A message is a versioned `QueuedInvocation` (the body) with SQS message attributes (routing ids for
metrics and operators, and on the dead-letter queue the reason). This module is their one owner:
the receiver, the worker, the operator tools and the events generator all build and read messages
through it. The body carries the callback secret, so the queue is encrypted at rest and the secret
is a SecretStr everywhere but in the serialized body.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer, model_validator

from idn_triggers import aws_clients
from idn_triggers.aws_clients import BuiltOnce
from idn_triggers.catalogue import TriggerType
from idn_triggers.envelope import METADATA_KEY, Delivery, DeliveryKind, ResponseMode

CONTRACT_VERSION: Final = 1
# SQS accepts 256 KiB per message by default; the envelope adds well under 4 KiB to the payload.
MAX_QUEUED_PAYLOAD_BYTES = 250 * 1024
SQS_BATCH: Final = 10  # SendMessageBatch: at most 10 messages, 256 KiB together


class QueueAttribute(StrEnum):
    """The SQS message attributes of the work queue and the dead-letter queue."""

    TRIGGER_ID = "triggerId"
    INVOCATION_ID = "invocationId"
    CONTRACT_VERSION = "contractVersion"
    REQUEUED_AT = "requeuedAt"  # a fresh copy the worker queued to retry past maxReceiveCount
    REASON = "reason"  # dead-letter queue only, like the three below
    FAILED_AT = "failedAt"
    RECEIVE_COUNT = "receiveCount"
    # set by the worker on a dead-lettered request-response invocation it failed at SailPoint
    CLOSED_AT_SAILPOINT = "closedAtSailPoint"
    REDRIVEN_AT = "redrivenAt"  # set by `idn-triggers-ops dlq redrive` on the copy it queues again


ROUTING_ATTRIBUTES: Final = (
    QueueAttribute.TRIGGER_ID,
    QueueAttribute.INVOCATION_ID,
    QueueAttribute.CONTRACT_VERSION,
)
MAX_REASON_CHARACTERS = 1000

# An SQS API attribute value, as boto3 sends and receives it: {"DataType": ..., "StringValue": ...}.
SqsAttributes = dict[str, dict[str, str]]


def _string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def _number(value: int) -> dict[str, str]:
    return {"DataType": "Number", "StringValue": str(value)}


def _absent(value: object) -> bool:
    return value is None


class QueuedInvocation(BaseModel):
    """One accepted invocation waiting for the worker."""

    model_config = ConfigDict(frozen=True)

    version: Literal[1] = CONTRACT_VERSION
    trigger_id: str
    trigger_type: TriggerType
    mode: ResponseMode | None  # None for fire-and-forget: nothing to answer
    invocation_id: str
    idempotency_key: str
    callback_url: str | None = None
    secret: SecretStr | None = None
    deadline: datetime | None = None
    received_at: datetime
    payload: dict[str, Any]
    delivery: DeliveryKind = DeliveryKind.LIVE  # an older message without it was a live delivery
    # Replays only (absent from other bodies, which keep their shape): the archived event played
    # again, and the replay command that queued it (also part of the idempotency key).
    replay_of: str | None = Field(default=None, exclude_if=_absent)
    replay_id: str | None = Field(default=None, exclude_if=_absent)
    # EventBridge only (absent from the receiver's bodies): SailPoint put the event on a partner bus,
    # so it received no HTTP status from us
    transport: Literal["EVENTBRIDGE"] | None = Field(default=None, exclude_if=_absent)

    @field_serializer("secret", when_used="json")
    def _reveal_in_queue_only(self, secret: SecretStr | None) -> str | None:
        return secret.get_secret_value() if secret else None

    @model_validator(mode="after")
    def _callback_needs_its_secret(self) -> QueuedInvocation:
        if (self.callback_url is None) != (self.secret is None):
            raise ValueError("callback_url and secret come together")
        return self

    @property
    def expects_answer(self) -> bool:
        return self.trigger_type is TriggerType.REQUEST_RESPONSE and self.callback_url is not None

    def past_deadline(self, now: datetime | None = None) -> bool:
        return self.deadline is not None and (now or datetime.now(UTC)) >= self.deadline

    def redriven(self, at: datetime, *, closed_at_sailpoint: bool = False) -> QueuedInvocation:
        """This message moved back from the dead-letter queue at `at` (a fresh arrival, so the archive
        keeps it as a new record). A request-response invocation SailPoint has closed (deadline passed,
        or the worker failed it with `error`) runs as a replay: the handler runs, the answer is
        archived, and nothing is completed again. The idempotency key is kept: a dead-lettered outcome
        never counted as done, and a copy of a run that did finish is still absorbed."""
        if self.expects_answer and (closed_at_sailpoint or self.past_deadline(at)):
            return self.model_copy(
                update={
                    "delivery": DeliveryKind.REPLAY,
                    "callback_url": None,
                    "secret": None,
                    "received_at": at,
                    "replay_id": "redrive",
                }
            )
        live = self.delivery is DeliveryKind.LIVE
        return self.model_copy(
            update={"delivery": DeliveryKind.REDRIVE if live else self.delivery, "received_at": at}
        )

    def sqs_attributes(self, *, requeued_at: datetime | None = None) -> SqsAttributes:
        """The attributes every copy of this message carries on the work queue."""
        attributes = {
            QueueAttribute.TRIGGER_ID.value: _string(self.trigger_id),
            QueueAttribute.INVOCATION_ID.value: _string(self.invocation_id),
            QueueAttribute.CONTRACT_VERSION.value: _number(self.version),
        }
        if requeued_at is not None:
            attributes[QueueAttribute.REQUEUED_AT.value] = _string(requeued_at.isoformat())
        return attributes

    def lambda_record_attributes(self) -> dict[str, dict[str, Any]]:
        """The same attributes as Lambda's SQS event source hands them to the worker."""
        return {
            name: {
                "stringValue": value["StringValue"],
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in self.sqs_attributes().items()
        }

    def log_fields(self) -> dict[str, Any]:
        """What may be logged about the message: no secret, no payload (PII)."""
        return {
            "trigger_id": self.trigger_id,
            "invocation_id": self.invocation_id,
            "mode": self.mode.value if self.mode else "FIRE_AND_FORGET",
            **({"delivery": self.delivery.value} if self.delivery is not DeliveryKind.LIVE else {}),
        }


def dead_letter_attributes(
    reason: str,
    receive_count: int | str,
    message: QueuedInvocation | None,
    failed_at: datetime | None = None,
    *,
    closed_at_sailpoint: bool = False,
) -> SqsAttributes:
    """What the worker attaches to a dead-lettered body: why, when, after how many receives, the
    routing ids when the body could be read, and whether SailPoint already has an (error) answer."""
    attributes = {
        QueueAttribute.REASON.value: _string(reason[:MAX_REASON_CHARACTERS]),
        QueueAttribute.FAILED_AT.value: _string((failed_at or datetime.now(UTC)).isoformat()),
        QueueAttribute.RECEIVE_COUNT.value: {"DataType": "Number", "StringValue": str(receive_count)},
    }
    if closed_at_sailpoint:
        attributes[QueueAttribute.CLOSED_AT_SAILPOINT.value] = _string("true")
    if message is not None:
        attributes.update(
            {
                name: value
                for name, value in message.sqs_attributes().items()
                if name != QueueAttribute.CONTRACT_VERSION
            }
        )
    return attributes


def routing_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The routing ids out of a received message's attributes (what a redriven copy keeps)."""
    names = {name.value for name in ROUTING_ATTRIBUTES}
    return {name: value for name, value in attributes.items() if name in names}


def redriven_attributes(attributes: Mapping[str, Any], at: datetime | None = None) -> dict[str, Any]:
    """What a copy moved back from the dead-letter queue carries: the routing ids, whether SailPoint
    has closed the invocation, and when it was redriven (the worker runs it as a `REDRIVE`)."""
    kept = routing_attributes(attributes)
    closed = attributes.get(QueueAttribute.CLOSED_AT_SAILPOINT.value)
    if closed is not None:
        kept[QueueAttribute.CLOSED_AT_SAILPOINT.value] = closed
    kept[QueueAttribute.REDRIVEN_AT.value] = _string((at or datetime.now(UTC)).isoformat())
    return kept


@dataclass(frozen=True, slots=True)
class ReceivedAttributes:
    """The attributes of a message read back from SQS (boto3) or from a Lambda SQS record.

    Ids missing from the attributes are read from the body's `trigger_id`/`invocation_id` (and
    nothing else of the body, which holds the callback secret and the payload)."""

    trigger_id: str | None = None
    invocation_id: str | None = None
    reason: str | None = None
    failed_at: str | None = None
    receive_count: str | None = None
    requeued_at: str | None = None
    redriven_at: str | None = None
    closed_at_sailpoint: bool = False

    @classmethod
    def from_sqs_message(
        cls, message: Mapping[str, Any], *, ids_from_body: bool = True
    ) -> ReceivedAttributes:
        values = {
            name: value.get("StringValue") for name, value in message.get("MessageAttributes", {}).items()
        }
        return cls._from(values, message.get("Body") if ids_from_body else None)

    @classmethod
    def from_lambda_record(
        cls, record: Mapping[str, Any], *, ids_from_body: bool = True
    ) -> ReceivedAttributes:
        values = {
            name: value.get("stringValue") for name, value in record.get("messageAttributes", {}).items()
        }
        return cls._from(values, record.get("body") if ids_from_body else None)

    @classmethod
    def _from(cls, values: Mapping[str, str | None], body: object) -> ReceivedAttributes:
        trigger_id = values.get(QueueAttribute.TRIGGER_ID)
        invocation_id = values.get(QueueAttribute.INVOCATION_ID)
        if (trigger_id is None or invocation_id is None) and isinstance(body, str):
            in_body = _ids_in_body(body)
            trigger_id, invocation_id = trigger_id or in_body[0], invocation_id or in_body[1]
        return cls(
            trigger_id=trigger_id,
            invocation_id=invocation_id,
            reason=values.get(QueueAttribute.REASON),
            failed_at=values.get(QueueAttribute.FAILED_AT),
            receive_count=values.get(QueueAttribute.RECEIVE_COUNT),
            requeued_at=values.get(QueueAttribute.REQUEUED_AT),
            redriven_at=values.get(QueueAttribute.REDRIVEN_AT),
            closed_at_sailpoint=values.get(QueueAttribute.CLOSED_AT_SAILPOINT) == "true",
        )


def _ids_in_body(body: str) -> tuple[str | None, str | None]:
    try:
        data = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    trigger, invocation = data.get("trigger_id"), data.get("invocation_id")
    return (
        trigger if isinstance(trigger, str) else None,
        invocation if isinstance(invocation, str) else None,
    )


def payload_fingerprint(trigger_id: str, payload: dict[str, Any]) -> str:
    """A stable id for a fire-and-forget event (SailPoint sends none): the same event hashes alike.

    `_metadata` is left out: it is delivery data (a callback, a secret, an invocation id), not the
    event, and the invocation history's `startInvocationInput.input` does not carry it."""
    event = {key: value for key, value in payload.items() if key != METADATA_KEY}
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{trigger_id}\n{canonical}".encode()).hexdigest()


def idempotency_key(trigger_id: str, payload: dict[str, Any], invocation_id: str | None = None) -> str:
    """The one key a live delivery and its recovered copy share: `{trigger}#{invocation id}` when the
    delivery carries SailPoint's invocation id (request-response, EventBridge), else
    `{trigger}#{payload fingerprint}` (HTTP fire-and-forget, which carries no id)."""
    return f"{trigger_id}#{invocation_id or payload_fingerprint(trigger_id, payload)}"


def sample_event_id(trigger_id: str, payload: dict[str, Any]) -> str | None:
    """A fresh id for each delivery of the trigger's published sample event, else None.

    De-duplication keys (the idempotency key is `{trigger id}#{invocation id}`): the invocation id
    SailPoint gives (`_metadata`, or the callback URL) when there is one; otherwise the payload's
    fingerprint, so the same fire-and-forget event delivered twice runs once. A test invocation
    without an input sends the trigger's sample payload, and so do `idn-triggers invoke-test`, the
    local demo and `events/`: keyed by content they would all be one event, and resending the
    sample after changing a handler would silently run nothing. Real events never equal the
    published sample (its ids are the documentation's), so each sample delivery gets its own key.
    """
    from idn_triggers.catalogue import trigger_document

    try:
        sample = trigger_document(trigger_id).get("exampleInput")
    except KeyError:  # an id the catalogue does not know (ExtraTriggers): no published sample
        return None
    return f"sample-{uuid.uuid4()}" if payload == sample else None


def queued_invocation(
    delivery: Delivery, trigger_type: TriggerType, response_deadline: timedelta, now: datetime | None = None
) -> QueuedInvocation:
    """Build the message for a delivery the receiver accepted."""
    received = now or datetime.now(UTC)
    metadata = delivery.metadata
    answerable = (
        trigger_type is TriggerType.REQUEST_RESPONSE and metadata is not None and metadata.callback_url
    )
    sample = None if delivery.invocation_id else sample_event_id(delivery.trigger_id, delivery.payload)
    invocation_id = (
        delivery.invocation_id or sample or payload_fingerprint(delivery.trigger_id, delivery.payload)
    )
    return QueuedInvocation(
        trigger_id=delivery.trigger_id,
        trigger_type=trigger_type,
        mode=delivery.response_mode if answerable else None,
        invocation_id=invocation_id,
        idempotency_key=idempotency_key(
            delivery.trigger_id, delivery.payload, delivery.invocation_id or sample
        ),
        callback_url=metadata.callback_url if answerable and metadata else None,
        secret=metadata.secret if answerable and metadata else None,
        deadline=received + response_deadline if answerable else None,
        received_at=received,
        payload=delivery.payload,
    )


def replayed_invocation(
    *,
    trigger_id: str,
    trigger_type: TriggerType,
    mode: ResponseMode | None,
    invocation_id: str,
    payload: dict[str, Any],
    event_id: str,
    replay_id: str,
    now: datetime | None = None,
) -> QueuedInvocation:
    """An archived event queued again by an operator (`idn-triggers-ops events replay`).

    It has no callback URL and no secret, so the worker runs the handler and never completes the
    invocation at SailPoint again (it is closed). Its idempotency key names the replay command: the
    worker's idempotency does not absorb a replay of an event it handled before, yet absorbs a
    duplicate of this very replay (one replay command never runs one event twice)."""
    return QueuedInvocation(
        trigger_id=trigger_id,
        trigger_type=trigger_type,
        mode=mode,
        invocation_id=invocation_id,
        idempotency_key=f"{trigger_id}#{invocation_id}#replay:{replay_id}",
        received_at=now or datetime.now(UTC),
        payload=payload,
        delivery=DeliveryKind.REPLAY,
        replay_of=event_id,
        replay_id=replay_id,
    )


def recovered_invocation(
    trigger_id: str,
    history_id: str,
    payload: dict[str, Any],
    key: str,
    now: datetime | None = None,
) -> QueuedInvocation:
    """The message for a fire-and-forget event read back from the tenant's invocation history: the
    worker runs it as a live one, and the handler is told it was recovered. `key` is the live
    delivery's idempotency key (see `idempotency_key`), so a delivery that did get through is not
    handled twice."""
    return QueuedInvocation(
        trigger_id=trigger_id,
        trigger_type=TriggerType.FIRE_AND_FORGET,
        mode=None,
        invocation_id=history_id,
        idempotency_key=key,
        received_at=now or datetime.now(UTC),
        payload={key_: value for key_, value in payload.items() if key_ != METADATA_KEY},
        delivery=DeliveryKind.RECOVERED,
    )


def _sqs_client() -> Any:
    from idn_triggers.observability import keep_sdk_logs_free_of_secrets

    keep_sdk_logs_free_of_secrets()
    return aws_clients.sqs()


class QueueSender:
    """Sends invocations to the work queue; the SQS client is created on first use (or given)."""

    def __init__(self, queue_url: str, client: Any = None) -> None:
        self.queue_url = queue_url
        self._client: BuiltOnce[Any] = BuiltOnce(_sqs_client, client)

    def _sqs(self) -> Any:
        return self._client.get()

    def send(self, message: QueuedInvocation) -> str:
        response = self._sqs().send_message(
            QueueUrl=self.queue_url,
            MessageBody=message.model_dump_json(),
            MessageAttributes=message.sqs_attributes(),
        )
        return str(response["MessageId"])

    def send_batch(self, messages: Sequence[QueuedInvocation]) -> list[str | None]:
        """Up to 10 messages (256 KiB in all) in one SendMessageBatch: each one's message id, or
        None for a message SQS refused (the caller retries it later)."""
        if not 0 < len(messages) <= SQS_BATCH:
            raise ValueError(f"a batch holds 1 to {SQS_BATCH} messages")
        response = self._sqs().send_message_batch(
            QueueUrl=self.queue_url,
            Entries=[
                {
                    "Id": str(index),
                    "MessageBody": message.model_dump_json(),
                    "MessageAttributes": message.sqs_attributes(),
                }
                for index, message in enumerate(messages)
            ],
        )
        sent = {int(entry["Id"]): str(entry["MessageId"]) for entry in response.get("Successful", [])}
        return [sent.get(index) for index in range(len(messages))]
