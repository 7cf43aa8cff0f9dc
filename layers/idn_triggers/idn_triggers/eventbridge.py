"""The EventBridge adapter: a SailPoint event from a partner event bus, as the worker's queued message.

With an EVENTBRIDGE subscription SailPoint puts each invocation on the partner event bus named after
its partner source; a rule routes it to the work queue, where the worker finds the event envelope
instead of a receiver's `QueuedInvocation`. This module is the one place that reads that envelope:

- `detail-type` is the trigger id; `detail` is the trigger input plus `_metadata`;
- `_metadata.invocationId` is the invocation id, so the idempotency key is the one an HTTP delivery
  of the same invocation gets (`{trigger id}#{invocation id}`): one invocation arriving by both paths
  runs once;
- request-response events carry `_metadata.callbackURL` + `secret` and are completed through the
  callback exactly like an ASYNC delivery (EventBridge has no SYNC or DYNAMIC).

The result is a `QueuedInvocation` (the queue contract stays owned by `idn_triggers.queue`); an
envelope that cannot become one raises `MalformedEvent` with a reason that names fields, never values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import ValidationError

from idn_triggers.catalogue import TriggerInfo, TriggerType
from idn_triggers.envelope import METADATA_KEY, DeliveryMetadata, ResponseMode
from idn_triggers.queue import QueuedInvocation, idempotency_key

PARTNER_SOURCE_PREFIX: Final = "aws.partner/sailpoint.com/"
ENVELOPE_KEYS: Final = ("detail-type", "detail", "source")


class MalformedEvent(ValueError):
    """An EventBridge envelope the worker cannot run; the message is the dead-letter reason."""


def partner_source_name(subscription_id: str, trigger_id: str) -> str:
    """The partner event source SailPoint creates for an EVENTBRIDGE subscription (and the name of
    the event bus that associates it): `aws.partner/sailpoint.com/{subscription id}/idn/{name}`."""
    return f"{PARTNER_SOURCE_PREFIX}{subscription_id}/idn/{trigger_id.removeprefix('idn:')}"


def is_eventbridge_event(body: object) -> bool:
    """Whether a queue body is an EventBridge event envelope (rather than a `QueuedInvocation`)."""
    return isinstance(body, Mapping) and all(key in body for key in ENVELOPE_KEYS)


def trigger_id_of(body: object) -> str | None:
    """The trigger id of a queue body that is an EventBridge event (for metrics), else None."""
    if not isinstance(body, str) or '"detail-type"' not in body:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    trigger = data.get("detail-type") if is_eventbridge_event(data) else None
    return trigger[:200] if isinstance(trigger, str) else None


def _received_at(event: Mapping[str, Any], now: datetime) -> datetime:
    """When SailPoint put the event (its `time`), never later than now: the deadline counts from it."""
    text = event.get("time")
    if isinstance(text, str):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return now
        if moment.tzinfo is not None:
            return min(moment.astimezone(UTC), now)
    return now


def queued_from_event(
    event: Mapping[str, Any],
    trigger_of: Callable[[str], TriggerInfo | None],
    response_deadline: timedelta,
    now: datetime | None = None,
) -> QueuedInvocation:
    """The queued invocation an EventBridge event stands for; raises MalformedEvent saying why not.

    `trigger_of` answers the trigger (catalogue or configured) for an id, None when unknown: `detail`
    is validated against that trigger's input model, so nothing invalid reaches a handler.
    """
    received = now or datetime.now(UTC)
    trigger_id = event.get("detail-type")
    if not isinstance(trigger_id, str) or not trigger_id:
        raise MalformedEvent("EventBridge event without a detail-type (the trigger id)")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise MalformedEvent("EventBridge event whose detail is not a JSON object")
    raw_metadata = detail.get(METADATA_KEY)
    if not isinstance(raw_metadata, dict):
        raise MalformedEvent("EventBridge event without detail._metadata")
    try:
        metadata = DeliveryMetadata.model_validate(raw_metadata)
    except ValidationError as error:
        fields = sorted({".".join(str(p) for p in e.get("loc", ())) or "(object)" for e in error.errors()})
        raise MalformedEvent(f"detail._metadata is invalid: {', '.join(fields)}") from None
    if metadata.trigger_id is not None and metadata.trigger_id != trigger_id:
        raise MalformedEvent("detail._metadata.triggerId does not match detail-type")
    invocation_id = metadata.resolved_invocation_id
    if not invocation_id:
        raise MalformedEvent("detail._metadata.invocationId is missing")
    info = trigger_of(trigger_id)
    if info is None:
        raise MalformedEvent(f"detail-type {trigger_id[:100]!r} is not a trigger this deployment serves")
    payload = {key: value for key, value in detail.items() if key != METADATA_KEY}
    try:
        info.load_input_model().model_validate(payload)
    except ValidationError as error:
        fields = sorted({".".join(str(p) for p in e.get("loc", ())) or "(detail)" for e in error.errors()})
        raise MalformedEvent(
            f"detail does not match the {trigger_id} input model: {', '.join(fields)[:500]}"
        ) from None
    answerable = info.type is TriggerType.REQUEST_RESPONSE
    if answerable and not (metadata.callback_url and metadata.secret):
        raise MalformedEvent(
            "request-response event without detail._metadata.callbackURL and secret: it cannot be answered"
        )
    start = _received_at(event, received)
    return QueuedInvocation(
        trigger_id=trigger_id,
        trigger_type=info.type,
        mode=ResponseMode.ASYNC if answerable else None,  # the callback is the only way to answer
        invocation_id=invocation_id,
        idempotency_key=idempotency_key(trigger_id, payload, invocation_id),  # the one key rule
        callback_url=metadata.callback_url if answerable else None,
        secret=metadata.secret if answerable else None,
        deadline=start + response_deadline if answerable else None,
        # when the worker received it, to the microsecond: an event's `time` has whole seconds only,
        # which would not order the archive's records (the deadline above counts from `time`)
        received_at=received,
        payload=payload,
        transport="EVENTBRIDGE",
    )
