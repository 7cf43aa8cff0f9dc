"""Event sources for local mode: an SQS poller with event-source-mapping semantics, and a timer for
`Schedule` events, both wired from the functions' events in template.yaml.

The poller behaves like Lambda's SQS mapping: batches up to BatchSize (waiting up to
MaximumBatchingWindowInSeconds to fill one), and after the invocation deletes every message that
succeeded; with ReportBatchItemFailures only the reported ones stay, otherwise an error keeps the
whole batch. What stays becomes visible again after the queue's visibility timeout, and moto's
redrive policy moves it to the DLQ after maxReceiveCount receives.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from idn_local.functions import LocalFunction
from idn_local.iam import running_as
from idn_local.resources import _boto
from idn_local.stack import ACCOUNT_ID, REGION

if TYPE_CHECKING:  # boto3-stubs: a dev dependency, for the type checker only
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger("idn_local.sources")


def sqs_event(messages: list[MessageTypeDef], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS mapping builds from received messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for message in messages
        ]
    }


class SqsPoller:
    """Polls one queue for one function until stopped."""

    def __init__(self, function: LocalFunction, properties: dict[str, Any], endpoint: str) -> None:
        """`properties`: the SQS event's properties, intrinsics resolved."""
        self.function = function
        self.queue_arn = str(properties["Queue"])
        self.batch_size = int(properties.get("BatchSize", 10))
        self.window = float(properties.get("MaximumBatchingWindowInSeconds", 0))
        self.partial = "ReportBatchItemFailures" in properties.get("FunctionResponseTypes", [])
        self._client = _boto("sqs", endpoint)
        self.queue_url = self._client.get_queue_url(QueueName=self.queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sqs-{function.name}", daemon=True)
        self.batches = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _receive(self) -> list[MessageTypeDef]:
        """One batch, as Lambda gathers it: long-poll for a first message, then keep gathering until
        the batch is full or MaximumBatchingWindowInSeconds has passed since polling began."""
        messages: list[MessageTypeDef] = []
        deadline: float | None = None
        while len(messages) < self.batch_size and not self._stop.is_set():
            remaining = 0.0 if deadline is None else deadline - time.monotonic()
            if deadline is not None and remaining <= 0:
                break
            received = self._client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                WaitTimeSeconds=1 if not messages else min(1, int(remaining)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if received and deadline is None:
                deadline = time.monotonic() + self.window
            elif not received and messages:
                self._stop.wait(
                    min(0.05, max(0.0, remaining))
                )  # a short window: do not spin on empty receives
            seen = {m["MessageId"] for m in messages}  # a record whose visibility ran out comes once
            messages.extend(m for m in received if m["MessageId"] not in seen)
        return messages

    def _run(self) -> None:
        # Lambda's event source mapping polls with the function's execution role (the SQS event's
        # managed policy in the template); local mode does the same when IAM is enforced.
        with running_as(self.function.identity):
            self._poll()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                messages = self._receive()
                if messages:
                    self._process(messages)
            except Exception:  # the poller must outlive any failure, as Lambda's does
                log.exception("SQS poller for %s failed; retrying", self.function.name)
                self._stop.wait(1)

    def _process(self, messages: list[MessageTypeDef]) -> None:
        self.batches += 1
        failed: set[str] = {m["MessageId"] for m in messages}
        try:
            response = self.function.invoke(sqs_event(messages, self.queue_arn))
            if self.partial and isinstance(response, dict):
                failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
            else:
                failed = set()
        except Exception:
            log.exception("%s raised: the whole batch returns to the queue", self.function.name)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )


_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days|second|seconds)\)$")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def schedule_seconds(expression: str) -> float:
    """The period of a `rate(...)` expression (cron is not emulated: it fails loudly)."""
    match = _RATE.match(expression.strip())
    if not match:
        raise ValueError(f"local mode runs rate(...) schedules only, not {expression!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


class ScheduleTimer:
    """Invokes a function on its schedule with the event EventBridge would send."""

    def __init__(
        self, function: LocalFunction, properties: dict[str, Any], period: float | None = None
    ) -> None:
        self.function = function
        self.period = period if period is not None else schedule_seconds(str(properties["Schedule"]))
        self.enabled = properties.get("Enabled", True) not in (False, "false")
        self.input = properties.get("Input")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule-{function.name}", daemon=True)
        self.runs = 0

    def start(self) -> None:
        if self.enabled:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def fire(self) -> Any:
        self.runs += 1
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT_ID,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/local-{self.function.name}"],
            "detail": {},
        }
        return self.function.invoke(event)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.fire()
            except Exception:  # a failed run is logged and retried next period, like a scheduled Lambda
                log.exception("scheduled run of %s failed", self.function.name)
            self._stop.wait(self.period)
