"""The worker's logic: run the handler for a queued invocation and complete it, losing nothing.

Every record ends in exactly one of three ways:
- done: handled (and, for request-response, completed at SailPoint), then deleted;
- retried: the record fails with a visibility delay (backoff, or the tenant's Retry-After); a
  transient callback failure on the last allowed receive is re-queued as a fresh message instead, so
  only the deadline ends its retries;
- dead-lettered: sent to the DLQ with a reason (poison message or malformed EventBridge event, deadline passed, callback refused,
  handler still failing on its last attempt, after completing the invocation with `error`).
Duplicates of one invocation are absorbed by Powertools idempotency keyed on the invocation id.
Only a run that finished (processed, or completed at SailPoint) is kept as done: a dead-lettered
outcome leaves the idempotency wrapper as `Unfinished`, so Powertools removes its record and an
operator's redrive runs the handler again. While a run is in progress its record still holds a live
duplicate off (the duplicate is retried later).
Records are the receiver's `QueuedInvocation`s or, with EventBridge subscriptions, SailPoint events a
rule routed here; `idn_triggers.eventbridge` turns the latter into the former.
Duplicates are also logged as "duplicate of <key>, skipped" and counted (WorkerRecords,
Outcome=duplicate); key rules: `idn_triggers.queue`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from idn_triggers.archive import processed_record
from idn_triggers.callback import CallbackOutcome
from idn_triggers.catalogue import TriggerInfo, configured_trigger, known_triggers
from idn_triggers.envelope import ResponseMode, callback_url_problem, completion_url
from idn_triggers.errors import TriggerError
from idn_triggers.eventbridge import MalformedEvent, is_eventbridge_event, queued_from_event
from idn_triggers.handlers import DEFER, HandlerContext, HandlerRegistry, TriggerHandler
from idn_triggers.ports import Completions, DeliveryRecorder, QueueClient
from idn_triggers.queue import QueuedInvocation, ReceivedAttributes, dead_letter_attributes
from idn_triggers.settings import WorkerSettings
from idn_triggers.trigger_control import Parked, TriggerControls

logger = Logger()
MAX_VISIBILITY_SECONDS = 900
MAX_DELAY_SECONDS = 900


class WorkerOutcome(StrEnum):
    """How a record ended; the value is the `Outcome` dimension of the WorkerRecords metric."""

    PROCESSED = "processed"  # fire-and-forget handled
    COMPLETED = "completed"  # request-response handled and completed at SailPoint
    COMPLETED_WITH_ERROR = "completed_with_error"  # failed at SailPoint on purpose, then dead-lettered
    COMPLETED_WITH_FALLBACK = "completed_with_fallback"  # the configured fallback answer, then dead-lettered
    REQUEUED = "requeued"  # a fresh copy queued to retry past maxReceiveCount
    HELD = "held"  # its trigger is paused: kept in the control table until resumed
    THROTTLED = "throttled"  # over its trigger's rate: a fresh copy queued with a delay to its slot
    RETRY = "retry"  # the record failed and comes back after a delay
    POISON = "poison"  # not a QueuedInvocation: dead-lettered
    NO_HANDLER = "no_handler"
    INVALID_PAYLOAD = "invalid_payload"
    HANDLER_FAILED = "handler_failed"
    REFUSED = "refused"  # callback URL we will not call
    EXPIRED = "expired"  # response deadline passed
    CALLBACK_REJECTED = "callback_rejected"
    DEAD_LETTERED = "dead_lettered"
    DUPLICATE = "duplicate"  # absorbed by idempotency: the same key ran before (logged as such)


DONE: Final = frozenset({WorkerOutcome.PROCESSED, WorkerOutcome.COMPLETED})


class Unfinished(Exception):
    """A run that ended without finishing (dead-lettered): raised through the idempotency wrapper so
    its record is removed, never stored as done. `process_record` turns it back into the outcome."""

    def __init__(self, outcome: WorkerOutcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


class RetryLater(Exception):
    """The record must come back after `delay` seconds."""

    def __init__(self, reason: str, delay: float) -> None:
        super().__init__(reason)
        self.delay = delay


@dataclass(slots=True)
class HandlerRun:
    """What one real run of `_handle` leaves for the archive; a duplicate absorbed by idempotency
    never runs `_handle`, so it is never archived twice (nor without its answer)."""

    handled: bool = False
    answer: Any = None
    handler_ms: float | None = None


def retry_misses_deadline(message: QueuedInvocation, delay: float, margin: float = 30.0) -> bool:
    """Whether a retry after `delay` would come too close to `responseDeadline` to still complete."""
    if message.deadline is None:
        return False
    return datetime.now(UTC) + timedelta(seconds=delay + margin) >= message.deadline


def backoff_seconds(receive_count: int, base: float = 2.0) -> int:
    """Exponential backoff by receive count: 2, 4, 8, ... capped at 15 minutes."""
    return int(min(MAX_VISIBILITY_SECONDS, base ** max(1, receive_count)))


class Worker:
    """One per container. `sqs` is a boto3 SQS client; `run_once` wraps the per-invocation work
    with idempotency (identity when none is configured, e.g. in unit tests). It returns the stored
    outcome of a duplicate as a plain string, so outcomes are read back through WorkerOutcome."""

    def __init__(
        self,
        settings: WorkerSettings,
        registry: HandlerRegistry,
        callbacks: Completions,
        sqs: QueueClient,
        run_once: Callable[[Callable[..., str]], Callable[..., str]] | None = None,
        *,
        archive: DeliveryRecorder | None = None,
        controls: TriggerControls | None = None,
    ) -> None:
        self.settings = settings
        self.archive = archive
        self.controls = controls
        self.registry = registry
        self.callbacks = callbacks
        self.sqs = sqs
        self._handle_once = run_once(self._run_to_end) if run_once else self._run_to_end

    # -- per record -----------------------------------------------------------------------
    def process_record(self, record: dict[str, Any]) -> WorkerOutcome:
        """Handle one SQS record; returns the outcome, raises to have the record retried."""
        receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        message, problem = self._message_from(record)
        if message is None:
            self.dead_letter(record, None, problem)
            return WorkerOutcome.POISON
        message = self._redriven(record, message)
        run = HandlerRun()  # left untouched when idempotency absorbs a duplicate
        try:
            outcome = WorkerOutcome(
                self._handle_once(message=message, record=record, receive_count=receive_count, run=run)
            )
        except Parked as parked:
            return self._park(message, parked)
        except Unfinished as unfinished:
            outcome = unfinished.outcome
        except RetryLater as retry:
            logger.warning(
                "invocation will be retried",
                extra={**message.log_fields(), "reason": str(retry), "receive_count": receive_count},
            )
            if receive_count >= self.settings.max_receive_count:
                self.requeue(message, int(retry.delay))  # keep trying until the deadline, not until redrive
                return WorkerOutcome.REQUEUED
            self.delay(record, retry.delay)
            raise
        except Exception as error:
            if not isinstance(error.__context__, Unfinished):
                raise
            # dead-lettered, but its idempotency record could not be removed: it expires with this
            # invocation's in-progress time, after which a redrive runs
            logger.warning(
                "dead-lettered; its idempotency record was not removed",
                extra={**message.log_fields(), "error_type": type(error).__name__},
            )
            outcome = error.__context__.outcome
        if not run.handled:
            logger.info(
                f"duplicate of {message.idempotency_key}, skipped",
                extra={**message.log_fields(), "first_outcome": str(outcome)},
            )
            return WorkerOutcome.DUPLICATE
        self._archive(message, outcome, run)
        return outcome

    def _park(self, message: QueuedInvocation, parked: Parked) -> WorkerOutcome:
        """Hold a paused trigger's event, or re-queue it for its rate slot (the record is then done)."""
        assert self.controls is not None
        fields = {**message.log_fields(), "reason": str(parked)}
        if parked.hold:
            self.controls.hold(
                message.trigger_id, message.received_at, message.idempotency_key, message.model_dump_json()
            )
            logger.info("event held: its trigger is paused", extra=fields)
            return WorkerOutcome.HELD
        self.requeue(message, math.ceil(parked.delay))
        logger.debug("event throttled", extra={**fields, "delay": parked.delay})
        return WorkerOutcome.THROTTLED

    def _note_handler(self, message: QueuedInvocation, succeeded: bool) -> None:
        """Feed the trigger's circuit breaker; never changes how the record ends."""
        if self.controls is None:
            return
        try:
            if succeeded:
                self.controls.handler_succeeded(message.trigger_id)
            else:
                self.controls.handler_failed(message.trigger_id)
        except Exception as error:
            logger.warning(
                "circuit breaker not updated",
                extra={**message.log_fields(), "error_type": type(error).__name__},
            )

    def _redriven(self, record: dict[str, Any], message: QueuedInvocation) -> QueuedInvocation:
        """A message moved back from the dead-letter queue (`dlq redrive` marks it `redrivenAt`;
        SQS's own move task keeps the dead-letter `reason`) arrives anew: see `QueuedInvocation.redriven`."""
        attributes = ReceivedAttributes.from_lambda_record(record, ids_from_body=False)
        if attributes.redriven_at is None and attributes.reason is None:
            return message
        try:
            at = datetime.fromisoformat(attributes.redriven_at or "")
        except ValueError:
            at = datetime.now(UTC)
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        return message.redriven(at, closed_at_sailpoint=attributes.closed_at_sailpoint)

    def _run_to_end(
        self,
        *,
        message: QueuedInvocation,
        record: dict[str, Any],
        receive_count: int,
        run: HandlerRun | None = None,
    ) -> WorkerOutcome:
        """`_handle`, with every outcome but a finished one raised as `Unfinished` (never kept as done)."""
        outcome = self._handle(message=message, record=record, receive_count=receive_count, run=run)
        if outcome not in DONE:
            raise Unfinished(outcome)
        return outcome

    def _archive(self, message: QueuedInvocation, outcome: WorkerOutcome, run: HandlerRun) -> None:
        """Keep the record of an invocation that ended here; never fails the record."""
        if self.archive is None or not run.handled:
            return
        try:
            archived = processed_record(message, outcome.value, run.answer, run.handler_ms, datetime.now(UTC))
            self.archive.record(archived)
        except Exception as error:  # the record ended as it did; keeping a copy must not change that
            logger.warning(
                "delivery not archived", extra={**message.log_fields(), "error_type": type(error).__name__}
            )

    def _message_from(self, record: dict[str, Any]) -> tuple[QueuedInvocation | None, str]:
        """The receiver's queued message, or an EventBridge event through its one adapter; else None
        and the dead-letter reason."""
        body = record.get("body")
        try:
            data = json.loads(body) if isinstance(body, str) else None
        except ValueError:
            data = None
        if is_eventbridge_event(data):
            assert isinstance(data, dict)
            try:
                return queued_from_event(data, self._trigger_of, self.settings.response_deadline), ""
            except MalformedEvent as error:
                return None, f"malformed EventBridge event: {error}"
        try:
            return QueuedInvocation.model_validate_json(body), ""  # type: ignore[arg-type]  # TypeError below
        except (ValidationError, TypeError):
            return None, "malformed queue message: not a QueuedInvocation v1"

    def _trigger_of(self, trigger_id: str) -> TriggerInfo | None:
        """The trigger of an EventBridge event, if this worker serves it (catalogue or configured)."""
        if not self.settings.is_enabled(trigger_id):
            return None
        info = known_triggers().get(trigger_id)
        if info is None and trigger_id in self.settings.extra_triggers:
            info = configured_trigger(trigger_id, self.settings.extra_triggers[trigger_id])
        return info

    def _handle(
        self,
        *,
        message: QueuedInvocation,
        record: dict[str, Any],
        receive_count: int,
        run: HandlerRun | None = None,
    ) -> WorkerOutcome:
        run = run if run is not None else HandlerRun()
        run.handled = True
        fields = message.log_fields()
        refused = self._refuse(record, message)
        if refused:
            return refused
        handler, problem = self._handler_for(message)
        if handler is None:
            return self._give_up(record, message, problem, WorkerOutcome.NO_HANDLER)
        try:
            event = handler.parse_input(message.payload)
        except TriggerError as error:
            return self._give_up(
                record, message, f"invalid payload: {error.details}", WorkerOutcome.INVALID_PAYLOAD
            )
        mode = message.mode or ResponseMode.ASYNC
        context = HandlerContext(
            message.trigger_id, mode, message.invocation_id, can_defer=False, delivery=message.delivery
        )
        if self.controls is not None:
            self.controls.gate(message.trigger_id)  # raises Parked: paused, or over its rate
        started = time.perf_counter()
        try:
            result = handler(event, context)
            if result is DEFER:
                raise RuntimeError("handler deferred in the worker, where no later exists")
            output = handler.validated_output(result)
        except Exception as error:
            logger.exception(
                "trigger handler failed in the worker", extra={**fields, "receive_count": receive_count}
            )
            self._note_handler(message, succeeded=False)
            delay = backoff_seconds(receive_count)
            if receive_count >= self.settings.max_receive_count:
                reason = f"handler failed on all {receive_count} attempts"
            elif retry_misses_deadline(message, delay):
                reason = f"handler failed on {receive_count} attempt(s); a retry would miss responseDeadline"
            else:
                raise RetryLater(f"handler failed ({type(error).__name__})", delay) from None
            return self._give_up(record, message, reason, WorkerOutcome.HANDLER_FAILED)
        self._note_handler(message, succeeded=True)
        run.handler_ms = round((time.perf_counter() - started) * 1000, 3)
        run.answer = output
        if not message.expects_answer:
            logger.info("invocation processed", extra=fields)
            return WorkerOutcome.PROCESSED
        return self._complete(record, message, output=output, receive_count=receive_count)

    def _handler_for(self, message: QueuedInvocation) -> tuple[TriggerHandler | None, str]:
        """The enabled handler, or None and why not (a module that fails to import included)."""
        try:
            handler = self.registry.get(message.trigger_id)
        except Exception as error:  # the handler module does not import, or registers nothing
            logger.exception("handler module failed to load", extra=message.log_fields())
            return None, f"handler module failed to load ({type(error).__name__})"
        if handler is None or not self.settings.is_enabled(message.trigger_id):
            return None, "no enabled handler for this trigger"
        return handler, ""

    def _refuse(self, record: dict[str, Any], message: QueuedInvocation) -> WorkerOutcome | None:
        """Dead-letter what must not run: a callback URL we will not call, a passed deadline."""
        if not message.expects_answer:
            return None
        assert message.callback_url is not None
        problem = callback_url_problem(
            message.callback_url, self.settings.tenant_api_url, self.settings.allow_http_callbacks
        )
        if problem:
            logger.error("callback URL refused", extra={**message.log_fields(), "reason": problem})
            return self.dead_letter(record, message, f"callback refused: {problem}", WorkerOutcome.REFUSED)
        if message.past_deadline():
            return self.dead_letter(
                record, message, "response deadline passed before completion", WorkerOutcome.EXPIRED
            )
        return None

    def _complete(
        self,
        record: dict[str, Any],
        message: QueuedInvocation,
        *,
        output: Any = None,
        error: str | None = None,
        receive_count: int = 1,
    ) -> WorkerOutcome:
        assert message.callback_url is not None and message.secret is not None
        # Rebuilt from the tenant's URL and the vetted invocation id: the request goes nowhere else.
        url = completion_url(message.callback_url, self.settings.tenant_api_url)
        result = self.callbacks.complete(url, message.secret.get_secret_value(), output=output, error=error)
        fields = {**message.log_fields(), "callback": result.reason}
        if result.outcome is CallbackOutcome.COMPLETED:
            logger.info(
                "invocation completed" if error is None else "invocation failed at SailPoint", extra=fields
            )
            return WorkerOutcome.COMPLETED if error is None else WorkerOutcome.COMPLETED_WITH_ERROR
        if result.outcome is CallbackOutcome.PERMANENT:
            logger.error("SailPoint refused the completion", extra=fields)
            return self.dead_letter(
                record, message, f"completion refused: {result.reason}", WorkerOutcome.CALLBACK_REJECTED
            )
        if message.past_deadline():
            return self.dead_letter(
                record, message, f"deadline passed while retrying: {result.reason}", WorkerOutcome.EXPIRED
            )
        raise RetryLater(
            f"completion failed: {result.reason}", result.retry_after or backoff_seconds(receive_count)
        )

    def _give_up(
        self, record: dict[str, Any], message: QueuedInvocation, reason: str, outcome: WorkerOutcome
    ) -> WorkerOutcome:
        """Fail the invocation at SailPoint now (it would otherwise wait for the deadline), then DLQ."""
        if message.expects_answer and not message.past_deadline():
            fallback = self._fallback(message) if outcome is WorkerOutcome.HANDLER_FAILED else None
            if fallback is not None:
                return self._complete_with_fallback(record, message, reason, fallback)
            completed = self._complete_with_error(record, message, reason)
            if completed is not WorkerOutcome.COMPLETED_WITH_ERROR:
                return completed
            return self.dead_letter(record, message, reason, outcome, closed_at_sailpoint=True)
        return self.dead_letter(record, message, reason, outcome)

    def _fallback(self, message: QueuedInvocation) -> Any:
        """The trigger's fallback answer (FAILURE_POLICIES), validated; None under `error`."""
        fallback = self.settings.failure_policies.get(message.trigger_id)
        handler = self.registry.get(message.trigger_id) if fallback is not None else None
        if fallback is None or handler is None:
            return None
        try:
            return handler.validated_output(fallback)
        except TriggerError:
            logger.error(
                "the configured fallback answer is invalid; completing with error", extra=message.log_fields()
            )
            return None

    def _complete_with_fallback(
        self, record: dict[str, Any], message: QueuedInvocation, reason: str, fallback: Any
    ) -> WorkerOutcome:
        """Complete with the fallback answer, then keep the event in the DLQ (the handler failed)."""
        try:
            completed = self._complete(record, message, output=fallback)
        except RetryLater:
            return self.dead_letter(
                record,
                message,
                f"{reason}; completing with the fallback also failed",
                WorkerOutcome.DEAD_LETTERED,
            )
        if completed is not WorkerOutcome.COMPLETED:
            return completed
        return self.dead_letter(
            record,
            message,
            f"{reason}; completed with the fallback answer",
            WorkerOutcome.COMPLETED_WITH_FALLBACK,
            closed_at_sailpoint=True,  # a redrive runs it as a replay, never completing it again
        )

    def _complete_with_error(
        self, record: dict[str, Any], message: QueuedInvocation, reason: str
    ) -> WorkerOutcome:
        try:
            return self._complete(record, message, error="the receiver could not process this invocation")
        except RetryLater:
            return self.dead_letter(
                record, message, f"{reason}; completing with error also failed", WorkerOutcome.DEAD_LETTERED
            )

    # -- queue operations -----------------------------------------------------------------
    def dead_letter(
        self,
        record: dict[str, Any],
        message: QueuedInvocation | None,
        reason: str,
        outcome: WorkerOutcome = WorkerOutcome.DEAD_LETTERED,
        *,
        closed_at_sailpoint: bool = False,
    ) -> WorkerOutcome:
        """Send the original body to the DLQ with the reason; raises (so the record retries) if that fails."""
        receive_count = record.get("attributes", {}).get("ApproximateReceiveCount", "1")
        attributes = dead_letter_attributes(
            reason, receive_count, message, closed_at_sailpoint=closed_at_sailpoint
        )
        self.sqs.send_message(
            QueueUrl=self.settings.dead_letter_queue_url,
            MessageBody=record["body"],
            MessageAttributes=attributes,
        )
        logger.error(
            "invocation dead-lettered", extra={**(message.log_fields() if message else {}), "reason": reason}
        )
        return outcome

    def delay(self, record: dict[str, Any], seconds: float) -> None:
        """Make the failed record visible again after `seconds` (Retry-After or backoff)."""
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.settings.queue_url,
                ReceiptHandle=record["receiptHandle"],
                VisibilityTimeout=int(min(MAX_VISIBILITY_SECONDS, max(0, seconds))),
            )
        except Exception as error:  # the queue's own visibility timeout still brings it back
            logger.warning("could not change message visibility", extra={"error_type": type(error).__name__})

    def requeue(self, message: QueuedInvocation, delay: int) -> None:
        """A fresh copy with a new receive count; the original record then counts as done."""
        self.sqs.send_message(
            QueueUrl=self.settings.queue_url,
            MessageBody=message.model_dump_json(),
            DelaySeconds=int(min(MAX_DELAY_SECONDS, max(0, delay))),
            MessageAttributes=message.sqs_attributes(requeued_at=datetime.now(UTC)),
        )
