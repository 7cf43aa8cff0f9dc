"""The queue contract between receiver and worker, and the receiver's side of SQS.

A message is a versioned `QueuedInvocation`. It carries the callback secret, so the queue is
encrypted at rest and the secret is a SecretStr everywhere but in the serialized body.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, field_serializer, model_validator

from idn_triggers.catalogue import TriggerType
from idn_triggers.envelope import Delivery, ResponseMode

CONTRACT_VERSION: Final = 1
# SQS accepts 256 KiB per message by default; the envelope adds well under 4 KiB to the payload.
MAX_QUEUED_PAYLOAD_BYTES = 250 * 1024


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

    def log_fields(self) -> dict[str, Any]:
        """What may be logged about the message: no secret, no payload (PII)."""
        return {
            "trigger_id": self.trigger_id,
            "invocation_id": self.invocation_id,
            "mode": self.mode.value if self.mode else "FIRE_AND_FORGET",
        }


def payload_fingerprint(trigger_id: str, payload: dict[str, Any]) -> str:
    """A stable id for a fire-and-forget event (SailPoint sends none): the same event hashes alike."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{trigger_id}\n{canonical}".encode()).hexdigest()


def queued_invocation(
    delivery: Delivery, trigger_type: TriggerType, response_deadline: timedelta, now: datetime | None = None
) -> QueuedInvocation:
    """Build the message for a delivery the receiver accepted."""
    received = now or datetime.now(UTC)
    metadata = delivery.metadata
    answerable = (
        trigger_type is TriggerType.REQUEST_RESPONSE and metadata is not None and metadata.callback_url
    )
    fingerprint = payload_fingerprint(delivery.trigger_id, delivery.payload)
    invocation_id = delivery.invocation_id or fingerprint
    return QueuedInvocation(
        trigger_id=delivery.trigger_id,
        trigger_type=trigger_type,
        mode=delivery.response_mode if answerable else None,
        invocation_id=invocation_id,
        idempotency_key=f"{delivery.trigger_id}#{invocation_id}",
        callback_url=metadata.callback_url if answerable and metadata else None,
        secret=metadata.secret if answerable and metadata else None,
        deadline=received + response_deadline if answerable else None,
        received_at=received,
        payload=delivery.payload,
    )


class QueueSender:
    """Sends invocations to the work queue; the SQS client is created on first use."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url
        self._client: Any = None

    def send(self, message: QueuedInvocation) -> str:
        if self._client is None:
            import boto3

            from idn_triggers.observability import keep_sdk_logs_free_of_secrets

            keep_sdk_logs_free_of_secrets()
            self._client = boto3.client("sqs")
        response = self._client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=message.model_dump_json(),
            MessageAttributes={
                "triggerId": {"DataType": "String", "StringValue": message.trigger_id},
                "invocationId": {"DataType": "String", "StringValue": message.invocation_id},
                "contractVersion": {"DataType": "Number", "StringValue": str(message.version)},
            },
        )
        return str(response["MessageId"])
