"""The delivery archive: every accepted delivery, what became of it, kept in S3 to be read and replayed.

SailPoint never resends a delivery and its invocation history forgets after 24 h, so a handler bug
that "succeeded" would otherwise lose the events it mishandled. Each record (`ArchivedDelivery`)
holds the payload, the trigger, mode, status code SailPoint received, outcome, timings, the answer
of a request-response trigger and the invocation id; never the callback secret, the callback URL or
any credential (the queued message's secret is dropped when a record is built, by construction).

Who writes what: the receiver archives what it answered itself (SYNC, DYNAMIC answered now, a failing
handler's 500); the worker archives what it processed (ASYNC, DYNAMIC deferred, fire-and-forget,
replays) once the record ends (not while it is retried). Writing is never on the path that could
refuse a delivery: `ArchiveRecorder.record` swallows every failure into a log line and the
`ArchiveFailures` metric (alarmed in template.yaml).

Keys: `events/{YYYY-MM-DD}/{trigger id}/{event id}.json`, where the event id starts with the
delivery's arrival time (`20261202T010806123456Z-1a2b3c4d`): listing a day, or a day and a trigger,
is one prefix; a time window within them is a key range; an event id names its day.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Literal

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict

from idn_triggers.catalogue import TriggerType
from idn_triggers.envelope import DeliveryKind, ResponseMode

logger = Logger()

RECORD_VERSION: Final = 1
PREFIX: Final = "events/"
FIRE_AND_FORGET: Final = "FIRE_AND_FORGET"
ARCHIVE_FAILURES_METRIC: Final = "ArchiveFailures"
_EVENT_ID = re.compile(r"^(?P<day>\d{8})T(?P<time>\d{12})Z-(?P<suffix>[0-9a-f]{8})$")


class ArchiveError(Exception):
    """Reading the archive failed; the message is the whole explanation (no payload values)."""


class ArchiveNotFound(ArchiveError):
    """No record has that event id (expired, or never archived)."""


class ArchivedDelivery(BaseModel):
    """One accepted delivery and its end. Nothing secret: the model has no field that could hold one."""

    model_config = ConfigDict(frozen=True)

    version: Literal[1] = RECORD_VERSION
    event_id: str
    trigger_id: str
    trigger_type: TriggerType
    mode: str  # SYNC, ASYNC, DYNAMIC or FIRE_AND_FORGET
    delivery: DeliveryKind = DeliveryKind.LIVE
    transport: Literal["HTTP", "EVENTBRIDGE"] = "HTTP"  # how SailPoint sent it
    invocation_id: str
    status_code: int | None  # what SailPoint received from the receiver; None for a replay or recovery
    outcome: str  # the receiver's (answered, handler_failed, ...) or the worker's WorkerOutcome
    archived_by: Literal["receiver", "worker"]
    received_at: datetime  # when the delivery (or the replay) arrived
    finished_at: datetime  # when it was answered, or processed by the worker
    latency_ms: float  # received -> finished
    handler_ms: float | None = None
    payload: dict[str, Any]
    answer: Any = None  # the request-response answer (validated output), when there was one
    replay_of: str | None = None  # for a replay: the event id it played again
    replay_id: str | None = None  # for a replay: the replay command that queued it

    @property
    def day(self) -> date:
        return self.received_at.astimezone(UTC).date()

    @property
    def key(self) -> str:
        return record_key(self.event_id, self.trigger_id)

    def summary(self) -> dict[str, Any]:
        """What a listing shows: everything but the payload and the answer (personal data)."""
        return {
            "event_id": self.event_id,
            "received_at": self.received_at.isoformat(),
            "trigger_id": self.trigger_id,
            "mode": self.mode,
            "delivery": self.delivery.value,
            "transport": self.transport,
            "status_code": self.status_code,
            "outcome": self.outcome,
            "latency_ms": self.latency_ms,
            "invocation_id": self.invocation_id,
            **({"replay_of": self.replay_of} if self.replay_of else {}),
        }


def new_event_id(received_at: datetime, *parts: str) -> str:
    """A time-ordered id naming its day: the arrival time, then a short hash of what makes it unique."""
    when = received_at.astimezone(UTC)
    digest = hashlib.sha256("\n".join((when.isoformat(), *parts)).encode()).hexdigest()[:8]
    return f"{when:%Y%m%dT%H%M%S%f}Z-{digest}"


def event_day(event_id: str) -> date:
    """The day an event id names; ArchiveError if it is not an event id."""
    match = _EVENT_ID.match(event_id)
    if match is None:
        raise ArchiveError(f"not an event id: {event_id!r} (expected e.g. 20261202T010806123456Z-1a2b3c4d)")
    try:
        return datetime.strptime(match["day"], "%Y%m%d").date()
    except ValueError:
        raise ArchiveError(f"not an event id: {event_id!r} (no such day)") from None


def day_prefix(day: date) -> str:
    return f"{PREFIX}{day.isoformat()}/"


def record_key(event_id: str, trigger_id: str) -> str:
    return f"{day_prefix(event_day(event_id))}{trigger_id}/{event_id}.json"


def _time_key(moment: datetime) -> str:
    """The event-id prefix of a moment: keys at or after it sort at or after this string."""
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%S%f}Z"


def acknowledged_status(
    mode: ResponseMode | None, delivery: DeliveryKind, *, eventbridge: bool = False
) -> int | None:
    """What the receiver answered a delivery the worker processes: 202 for a deferred DYNAMIC
    invocation (the receiver queues DYNAMIC only when the handler deferred), 200 otherwise (a redrive
    included: its delivery was acknowledged before it was dead-lettered). None when SailPoint received
    nothing from us: a replay was never a delivery, and a recovered event is one whose delivery
    failed (SailPoint saw an error or nothing, which the archive does not know), and an EventBridge
    event (SailPoint put it on a bus: no answer from us)."""
    if eventbridge or delivery in (DeliveryKind.REPLAY, DeliveryKind.RECOVERED):
        return None
    return 202 if mode is ResponseMode.DYNAMIC else 200


def _ms(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() * 1000, 3)


def answered_record(
    *,
    trigger_id: str,
    trigger_type: TriggerType,
    mode: ResponseMode,
    invocation_id: str | None,
    payload: dict[str, Any],
    status_code: int,
    outcome: str,
    answer: Any,
    received_at: datetime,
    finished_at: datetime,
) -> ArchivedDelivery:
    """The receiver's record of a delivery it answered itself (SYNC, DYNAMIC now, a failing handler)."""
    from idn_triggers.queue import payload_fingerprint

    invocation = invocation_id or payload_fingerprint(trigger_id, payload)
    return ArchivedDelivery(
        event_id=new_event_id(received_at, trigger_id, invocation, "receiver"),
        trigger_id=trigger_id,
        trigger_type=trigger_type,
        mode=mode.value,
        invocation_id=invocation,
        status_code=status_code,
        outcome=outcome,
        archived_by="receiver",
        received_at=received_at,
        finished_at=finished_at,
        latency_ms=_ms(received_at, finished_at),
        payload=payload,
        answer=answer,
    )


def processed_record(
    message: Any, outcome: str, answer: Any, handler_ms: float | None, finished_at: datetime
) -> ArchivedDelivery:
    """The worker's record of a queued invocation (a `QueuedInvocation`) that ended: only its public
    fields are copied, never `secret` or `callback_url`."""
    return ArchivedDelivery(
        event_id=new_event_id(
            message.received_at, message.trigger_id, message.invocation_id, message.idempotency_key
        ),
        trigger_id=message.trigger_id,
        trigger_type=message.trigger_type,
        mode=message.mode.value if message.mode else FIRE_AND_FORGET,
        delivery=message.delivery,
        transport="EVENTBRIDGE" if message.transport else "HTTP",
        invocation_id=message.invocation_id,
        status_code=acknowledged_status(
            message.mode, message.delivery, eventbridge=message.transport is not None
        ),
        outcome=str(outcome),
        archived_by="worker",
        received_at=message.received_at,
        finished_at=finished_at,
        latency_ms=_ms(message.received_at, finished_at),
        handler_ms=handler_ms,
        payload=message.payload,
        answer=answer,
        replay_of=message.replay_of,
        replay_id=message.replay_id,
    )


# -- S3 --------------------------------------------------------------------------------------------
def s3_client(
    endpoint_url: str | None = None,
    region: str | None = None,
    *,
    connect_timeout: float = 60,
    read_timeout: float = 60,
    attempts: int | None = None,
    credentials: dict[str, str] | None = None,
) -> Any:
    """A boto3 S3 client (boto3 imported here: the receiver pays for it only with the archive on).

    `credentials` (aws_access_key_id, aws_secret_access_key) only for an emulator's placeholders."""
    import boto3
    from botocore.config import Config

    from idn_triggers.observability import keep_sdk_logs_free_of_secrets

    keep_sdk_logs_free_of_secrets()  # payloads are personal data: no request body at DEBUG
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", **({"total_max_attempts": attempts} if attempts else {})},
    )
    options: dict[str, Any] = {"config": config, **(credentials or {})}
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    if region:
        options["region_name"] = region
    return boto3.client("s3", **options)


@dataclass(frozen=True, slots=True)
class Window:
    """A time window [since, until) over the archive."""

    since: datetime
    until: datetime

    def days(self) -> list[date]:
        first, last = self.since.astimezone(UTC).date(), self.until.astimezone(UTC).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def holds(self, event_id: str) -> bool:
        return _time_key(self.since) <= event_id < _time_key(self.until)


class DeliveryArchive:
    """The archive bucket: write a record, list keys by day/trigger/window, read records back."""

    def __init__(self, bucket: str, client: Any = None, **client_options: Any) -> None:
        self.bucket = bucket
        self._client = client
        self._client_options = client_options

    @property
    def client(self) -> Any:
        if self._client is None:  # created on first use, once per container
            self._client = s3_client(**self._client_options)
        return self._client

    def put(self, record: ArchivedDelivery) -> str:
        self.client.put_object(
            Bucket=self.bucket,
            Key=record.key,
            Body=record.model_dump_json().encode(),
            ContentType="application/json",
        )
        return record.key

    # -- reading (the operator tools) -----------------------------------------------------------
    def _keys(self, prefix: str, start_after: str | None = None) -> Iterator[str]:
        options: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if start_after:
            options["StartAfter"] = start_after
        for page in self.client.get_paginator("list_objects_v2").paginate(**options):
            for item in page.get("Contents", []):
                yield str(item["Key"])

    def triggers_on(self, day: date) -> list[str]:
        """The trigger ids with at least one record that day (one delimited listing)."""
        prefix = day_prefix(day)
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/"
        ):
            found += [p["Prefix"][len(prefix) : -1] for p in page.get("CommonPrefixes", [])]
        return found

    def keys(self, window: Window, trigger_id: str | None = None) -> list[str]:
        """The keys of records that arrived in the window, oldest first: per day and trigger, one
        listing that starts at the window's first key."""
        keys: list[str] = []
        for day in window.days():
            triggers = [trigger_id] if trigger_id else self.triggers_on(day)
            for trigger in triggers:
                prefix = f"{day_prefix(day)}{trigger}/"
                for key in self._keys(prefix, start_after=prefix + _time_key(window.since)[:-1]):
                    event_id = key[len(prefix) : -len(".json")]
                    if event_id >= _time_key(window.until):
                        break
                    if window.holds(event_id):
                        keys.append(key)
        return sorted(keys, key=lambda key: key.rsplit("/", 1)[-1])

    def get(self, key: str) -> ArchivedDelivery:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except Exception as error:
            raise ArchiveError(f"cannot read {key}: {type(error).__name__}") from None
        return ArchivedDelivery.model_validate_json(body)

    def find(self, event_id: str) -> ArchivedDelivery:
        """The record with this id: its day is in the id, its trigger is one of that day's."""
        day = event_day(event_id)
        for trigger in self.triggers_on(day):
            key = record_key(event_id, trigger)
            if any(found == key for found in self._keys(key)):
                return self.get(key)
        raise ArchiveNotFound(f"no archived event {event_id} (expired, or never archived)")

    def records(self, keys: list[str], workers: int = 16) -> Iterator[ArchivedDelivery]:
        """The records of `keys`, in order, read `workers` at a time."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for start in range(0, len(keys), workers * 4):
                yield from pool.map(self.get, keys[start : start + workers * 4])


class ArchiveRecorder:
    """What the functions hold: `record` stores a record and never raises. A failure is a warning
    log line (no payload) and one `ArchiveFailures` metric, which template.yaml alarms on."""

    def __init__(self, archive: DeliveryArchive) -> None:
        self.archive = archive

    @classmethod
    def for_bucket(cls, bucket: str, *, quick: bool = False) -> ArchiveRecorder:
        """`quick` bounds a write on the receiver's answer path: one attempt, short timeouts."""
        if quick:
            return cls(DeliveryArchive(bucket, connect_timeout=0.5, read_timeout=1.0, attempts=1))
        return cls(DeliveryArchive(bucket, connect_timeout=2.0, read_timeout=5.0, attempts=3))

    def record(self, record: ArchivedDelivery) -> bool:
        try:
            self.archive.put(record)
            return True
        except Exception as error:  # any S3, network or serialisation failure: the delivery goes on
            logger.warning(
                "delivery not archived",
                extra={
                    "trigger_id": record.trigger_id,
                    "invocation_id": record.invocation_id,
                    "event_id": record.event_id,
                    "error_type": type(error).__name__,
                },
            )
            _count_failure()
            return False


def _count_failure() -> None:
    """One ArchiveFailures metric with only the service dimension: the one the alarm watches."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    try:
        with single_metric(name=ARCHIVE_FAILURES_METRIC, unit=MetricUnit.Count, value=1):
            pass
    except Exception:  # a metric must never be what fails a delivery
        logger.warning("ArchiveFailures metric not written")


# -- showing a record ---------------------------------------------------------------------------------
REDACTED: Final = "***"


def redacted(value: Any) -> Any:
    """The same structure with every leaf value hidden (null stays null): keys tell what was there."""
    if isinstance(value, Mapping):
        return {key: redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redacted(item) for item in value]
    return None if value is None else REDACTED


# The decision in a request-response answer: pre-approval's `approved` and `approver` (the deciding
# system), the dynamic approver's `id` and `type`. Shown without --reveal: they are what an operator
# checks; the comment and the approver's name stay redacted (free text, personal data).
DECISION_FIELDS: Final = frozenset({"approved", "approver", "id", "type"})


def shown(record: ArchivedDelivery, *, reveal: bool = False) -> dict[str, Any]:
    """A record as `events show` prints it: payload and answer redacted unless `reveal`, except the
    answer's decision (DECISION_FIELDS)."""
    data: dict[str, Any] = json.loads(record.model_dump_json())
    if not reveal:
        data["payload"] = redacted(data["payload"])
        answer = data["answer"]
        if isinstance(answer, dict):
            data["answer"] = {
                key: value
                if key in DECISION_FIELDS and not isinstance(value, dict | list)
                else redacted(value)
                for key, value in answer.items()
            }
        else:
            data["answer"] = redacted(answer)
    return data
