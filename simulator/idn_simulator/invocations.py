"""Trigger invocations: delivery to the subscriber, completion rules, and what happened, on record.

Every invocation is kept as an immutable ``InvocationRecord``, replaced on each change under one
condition variable, so tests can read snapshots and wait for a state without sleeping.

Outcomes, per SailPoint's documented protocol:

- FIRE_AND_FORGET: a 2xx answer completes it; anything else fails it. The answer body is ignored.
- SYNC: the 2xx answer body *is* the output; it must validate against the trigger's outputSchema.
- ASYNC: a 2xx answer acknowledges; the subscriber then POSTs ``{secret, output}`` to the callback.
- DYNAMIC: ``200`` + output completes now; ``202`` means a callback follows.
- A REQUEST_RESPONSE invocation not completed within the subscription's ``responseDeadline`` fails.
"""

from __future__ import annotations

import dataclasses
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from .api_errors import ApiError, bad_request, not_found
from .tenant_triggers import REQUEST_RESPONSE, TenantTriggers

DEADLINE_PASSED = "deadline passed"
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class SimulatorClock:
    """The tenant's clock: real time plus an offset tests can move (retention, deadlines, history
    timestamps all read it), without sleeping for hours."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta()

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset


def iso(moment: datetime | None) -> str | None:
    """SailPoint's timestamp format: ISO-8601 UTC with milliseconds and a Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class InvocationState(StrEnum):
    DELIVERING = "DELIVERING"
    AWAITING_CALLBACK = "AWAITING_CALLBACK"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """The simulator's POST to the subscription URL and the subscriber's answer."""

    at: datetime
    status: int | None
    body: Any
    elapsed_seconds: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CompletionAttempt:
    """One try at completing: an inline answer (SYNC/DYNAMIC) or a callback, accepted or not."""

    at: datetime
    via: str  # "sync-response" | "dynamic-response" | "callback"
    accepted: bool
    status: int  # the subscriber's HTTP status (responses) or the simulator's answer (callbacks)
    output: Any = None
    error: str | None = None  # the subscriber's own ``error`` text
    problems: tuple[str, ...] = ()  # why the simulator rejected it


@dataclass(frozen=True, slots=True)
class InvocationRecord:
    """Everything known about one invocation (``secret`` is kept out of repr and admin views)."""

    id: str
    kind: str  # TEST | REAL_TIME
    trigger_id: str
    trigger_type: str
    subscription_id: str
    subscription_name: str
    mode: str  # the subscription's httpDispatchMode
    url: str
    input: Any
    content_json: dict[str, Any]
    secret: str = dataclasses.field(repr=False)
    callback_url: str | None
    created: datetime
    deadline: datetime | None
    state: InvocationState = InvocationState.DELIVERING
    delivery: DeliveryAttempt | None = None
    attempts: tuple[CompletionAttempt, ...] = ()
    completed: datetime | None = None
    completed_via: str | None = None
    output: Any = None
    error: str | None = None
    failure: str | None = None

    @property
    def is_request_response(self) -> bool:
        return self.trigger_type == REQUEST_RESPONSE

    @property
    def settled(self) -> bool:
        return self.state in (InvocationState.COMPLETED, InvocationState.FAILED)

    @property
    def expects_callback(self) -> bool:
        return self.is_request_response and self.mode in ("ASYNC", "DYNAMIC")

    def status_view(self) -> dict[str, Any]:
        """The spec's InvocationStatus object."""
        view: dict[str, Any] = {
            "id": self.id,
            "triggerId": self.trigger_id,
            "subscriptionName": self.subscription_name,
            "subscriptionId": self.subscription_id,
            "type": self.kind,
            "created": iso(self.created),
            "startInvocationInput": {
                "triggerId": self.trigger_id,
                "input": self.input,
                "contentJson": self.content_json,
            },
        }
        if self.settled:
            view["completed"] = iso(self.completed)
            complete: dict[str, Any] = {"output": self.output}
            if self.state is InvocationState.FAILED:
                message = self.error or self.failure or "failed"
                complete["localizedError"] = {"locale": "en-US", "message": message}
            view["completeInvocationInput"] = complete
        return view

    def admin_view(self) -> dict[str, Any]:
        """The full record as JSON for GET /_sim/invocations (no secret)."""

        def plain(value: Any) -> Any:
            if isinstance(value, datetime):
                return iso(value)
            if isinstance(value, tuple):
                return [plain(item) for item in value]
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
            return value

        view = {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "secret"}
        view["settled"] = self.settled
        return view


class Invocations:
    """All invocations of the tenant, with the completion rules."""

    def __init__(
        self,
        catalogue: TenantTriggers,
        clock: Clock = utcnow,
        *,
        success_retention: timedelta = timedelta(hours=24),
        failure_retention: timedelta = timedelta(hours=48),
    ) -> None:
        self._catalogue = catalogue
        self._clock = clock
        self.success_retention = success_retention
        self.failure_retention = failure_retention
        self._changed = threading.Condition()
        self._records: dict[str, InvocationRecord] = {}

    def add(self, record: InvocationRecord) -> None:
        with self._changed:
            self._records[record.id] = record
            self._changed.notify_all()

    def get(self, invocation_id: str) -> InvocationRecord | None:
        with self._changed:
            self._expire_due()
            return self._records.get(invocation_id)

    def all(self) -> list[InvocationRecord]:
        with self._changed:
            self._expire_due()
            return list(self._records.values())

    def clear(self) -> None:
        with self._changed:
            self._records.clear()
            self._changed.notify_all()

    def wait(self, predicate: Callable[[InvocationRecord], bool], timeout: float) -> InvocationRecord:
        """The first invocation satisfying ``predicate``; TimeoutError after ``timeout`` seconds."""
        end = time.monotonic() + timeout
        with self._changed:
            while True:
                self._expire_due()
                for record in self._records.values():
                    if predicate(record):
                        return record
                remaining = end - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no invocation matched within {timeout} s")
                # Short waits: deadlines expire without any notification.
                self._changed.wait(min(remaining, 0.05))

    def settle_delivery(self, invocation_id: str, delivery: DeliveryAttempt) -> None:
        """Record the subscriber's answer to the delivery and what it means for the invocation."""
        with self._changed:
            record = self._records.get(invocation_id)
            if record is None:  # reset while the delivery was in flight
                return
            record = dataclasses.replace(record, delivery=delivery)
            if not record.settled:
                record = self._after_delivery(record, delivery)
            self._records[invocation_id] = record
            self._changed.notify_all()

    def _after_delivery(self, record: InvocationRecord, delivery: DeliveryAttempt) -> InvocationRecord:
        status = delivery.status
        if delivery.error is not None or status is None:
            return self._fail(record, f"delivery failed: {delivery.error}")
        ok = 200 <= status < 300
        waits = record.mode == "ASYNC" or (record.mode == "DYNAMIC" and status == 202)
        if not record.is_request_response or waits:
            if not ok:
                return self._fail(record, f"subscriber answered {status}")
            if waits:
                return dataclasses.replace(record, state=InvocationState.AWAITING_CALLBACK)
            return self._finish(record, "delivery")  # fire-and-forget: the answer body is ignored
        return self._settle_inline_answer(record, delivery, status)

    def _settle_inline_answer(
        self, record: InvocationRecord, delivery: DeliveryAttempt, status: int
    ) -> InvocationRecord:
        """SYNC (any 2xx) or DYNAMIC (200): the answer body is the output and must validate."""
        via = "sync-response" if record.mode == "SYNC" else "dynamic-response"
        answered = status == 200 if record.mode == "DYNAMIC" else 200 <= status < 300
        problems = (
            self._output_problems(record, delivery.body, where="$") if answered else [f"status {status}"]
        )
        attempt = CompletionAttempt(
            self._clock(), via, not problems, status, output=delivery.body, problems=tuple(problems)
        )
        record = dataclasses.replace(record, attempts=(*record.attempts, attempt))
        if not answered:
            return self._fail(record, f"subscriber answered {status}")
        if problems:
            return self._fail(record, "invalid output: " + "; ".join(problems))
        return self._finish(record, via, output=delivery.body)

    def complete(self, invocation_id: str, body: Any) -> None:
        """POST .../{id}/complete: the rules, in order; raises ApiError, returns on 204.

        A wrong secret is 403: the spec lists 403 ("refuses to authorize") for this operation and
        the secret is what authorizes a caller for one invocation. An unknown id is 404 (the spec
        lists no 404 here; 404 is what the other endpoints use for a missing resource).
        """
        if not isinstance(body, dict):
            raise bad_request("request body must be a JSON object")
        secret = body.get("secret")
        if not isinstance(secret, str) or not secret:
            raise bad_request("secret is required and must be a string")
        error = body.get("error")
        if error is not None and not isinstance(error, str):
            raise bad_request("error must be a string")
        with self._changed:
            self._expire_due()
            record = self._records.get(invocation_id)
            if record is None:
                raise not_found(f"invocation '{invocation_id}' not found")
            try:
                self._check_completable(record, secret)
                if error is None and "output" not in body:
                    raise bad_request("output is required (or error, to fail the invocation)")
                problems = [] if error is not None else self._output_problems(record, body["output"])
                if problems:
                    raise bad_request(
                        "output does not match the trigger's outputSchema: " + "; ".join(problems)
                    )
            except ApiError as rejected:
                self._note_attempt(record, body, rejected)
                raise
            attempt = CompletionAttempt(
                self._clock(), "callback", True, 204, output=body.get("output"), error=error
            )
            record = dataclasses.replace(record, attempts=(*record.attempts, attempt))
            if error is not None:
                record = self._fail(
                    dataclasses.replace(record, error=error), "subscriber reported an error", via="callback"
                )
            else:
                record = self._finish(record, "callback", output=body["output"])
            self._records[invocation_id] = record
            self._changed.notify_all()

    def _check_completable(self, record: InvocationRecord, secret: str) -> None:
        if not hmac.compare_digest(secret.encode("utf-8"), record.secret.encode("utf-8")):
            raise ApiError(403, "secret does not match the invocation")
        if not record.is_request_response:
            raise bad_request("only invocations of REQUEST_RESPONSE triggers are completed")
        if record.failure == DEADLINE_PASSED:
            raise bad_request("deadline passed: the subscription's responseDeadline has elapsed")
        if record.settled:
            raise bad_request("invocation already completed")
        if not record.expects_callback:
            raise bad_request("a SYNC invocation completes with the subscriber's response, not a callback")

    def _note_attempt(self, record: InvocationRecord, body: dict[str, Any], rejected: ApiError) -> None:
        attempt = CompletionAttempt(
            self._clock(),
            "callback",
            False,
            rejected.status,
            output=body.get("output"),
            error=body.get("error") if isinstance(body.get("error"), str) else None,
            problems=(rejected.message,),
        )
        self._records[record.id] = dataclasses.replace(record, attempts=(*record.attempts, attempt))
        self._changed.notify_all()

    def _output_problems(self, record: InvocationRecord, output: Any, where: str = "$.output") -> list[str]:
        trigger = self._catalogue.get(record.trigger_id)
        return trigger.output_problems(output, where) if trigger is not None else []

    def _finish(self, record: InvocationRecord, via: str, output: Any = None) -> InvocationRecord:
        return dataclasses.replace(
            record, state=InvocationState.COMPLETED, completed=self._clock(), completed_via=via, output=output
        )

    def _fail(self, record: InvocationRecord, reason: str, via: str | None = None) -> InvocationRecord:
        return dataclasses.replace(
            record, state=InvocationState.FAILED, completed=self._clock(), completed_via=via, failure=reason
        )

    def _expire_due(self) -> None:
        """Fail REQUEST_RESPONSE invocations still open after their deadline, and forget what the
        history no longer keeps: successful invocations after 24 h, the others after 48 h (caller
        holds the lock)."""
        now = self._clock()
        forgotten = [
            record.id
            for record in self._records.values()
            if record.created
            <= now
            - (
                self.success_retention
                if record.state is InvocationState.COMPLETED
                else self.failure_retention
            )
        ]
        for invocation_id in forgotten:
            del self._records[invocation_id]
        expired = [
            record
            for record in self._records.values()
            if not record.settled and record.deadline is not None and record.deadline <= now
        ]
        for record in expired:
            self._records[record.id] = self._fail(record, DEADLINE_PASSED)
        if expired:
            self._changed.notify_all()
