"""Local mode's SQS poller and schedule timer against moto's server: Lambda's semantics."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from idn_local.functions import LocalFunction
from idn_local.sources import ScheduleTimer, SqsPoller, schedule_seconds
from idn_local.stack import FunctionSpec


def local_function(handler: Callable[[dict[str, Any], Any], Any], name: str = "Fn") -> LocalFunction:
    spec = FunctionSpec(
        name=name,
        code_uri=Path("functions"),
        handler="app.h",
        environment={},
        events=[],
        timeout=5,
        properties={},
    )
    return LocalFunction(spec, handler)


@pytest.fixture
def queues(aws: str) -> Iterator[dict[str, str]]:
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="work-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName="work",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    yield {"queue": queue, "dlq": dlq, "arn": arn, "endpoint": aws}


def send(queue: str, *bodies: str) -> None:
    for body in bodies:
        boto3.client("sqs").send_message(QueueUrl=queue, MessageBody=body)


def depth(queue: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    return sum(int(v) for v in attributes["Attributes"].values())


def visible(queue: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def wait_until(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def start_poller(queues: dict[str, str], handler: Callable[..., Any], **properties: Any) -> SqsPoller:
    poller = SqsPoller(local_function(handler), {"Queue": queues["arn"], **properties}, queues["endpoint"])
    poller.start()
    return poller


def test_successful_batch_is_deleted_and_records_have_lambda_shape(queues: dict[str, str]) -> None:
    seen: list[dict[str, Any]] = []
    send(queues["queue"], "a", "b", "c")
    poller = start_poller(
        queues,
        lambda event, ctx: seen.extend(event["Records"]),
        BatchSize=10,
        MaximumBatchingWindowInSeconds=0,
    )
    try:
        wait_until(lambda: len(seen) == 3 and depth(queues["queue"]) == 0)
    finally:
        poller.stop()
    record = seen[0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == queues["arn"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {r["body"] for r in seen} == {"a", "b", "c"}


def test_reported_failures_stay_and_reach_the_dlq_after_max_receives(queues: dict[str, str]) -> None:
    # Given a function that reports "poison" as failed and succeeds on the rest
    def handler(event: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "poison"
            ]
        }

    send(queues["queue"], "good", "poison")
    poller = start_poller(queues, handler, FunctionResponseTypes=["ReportBatchItemFailures"])
    try:
        # Then the good record is gone at once, and the poison one ends in the DLQ
        wait_until(lambda: depth(queues["dlq"]) == 1 and depth(queues["queue"]) == 0)
    finally:
        poller.stop()
    [message] = boto3.client("sqs").receive_message(QueueUrl=queues["dlq"])["Messages"]
    assert message["Body"] == "poison"


def test_without_partial_responses_an_error_returns_the_whole_batch(queues: dict[str, str]) -> None:
    calls: list[int] = []

    def handler(event: dict[str, Any], ctx: Any) -> None:
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise RuntimeError("first batch fails")

    send(queues["queue"], "x", "y")
    poller = start_poller(queues, handler, BatchSize=10, MaximumBatchingWindowInSeconds=0)
    try:
        wait_until(lambda: len(calls) >= 2 and depth(queues["queue"]) == 0)
    finally:
        poller.stop()
    assert sum(calls[1:]) == 2  # both came back after the visibility timeout


def test_batch_size_is_respected(queues: dict[str, str]) -> None:
    sizes: list[int] = []
    send(queues["queue"], *[str(i) for i in range(5)])
    poller = start_poller(
        queues,
        lambda event, ctx: sizes.append(len(event["Records"])),
        BatchSize=2,
        MaximumBatchingWindowInSeconds=0,
    )
    try:
        wait_until(lambda: sum(sizes) == 5)
    finally:
        poller.stop()
    assert max(sizes) <= 2


def test_schedule_fires_periodically_with_an_eventbridge_event() -> None:
    fired: list[dict[str, Any]] = []
    done = threading.Event()

    def handler(event: dict[str, Any], ctx: Any) -> None:
        fired.append(event)
        if len(fired) == 3:
            done.set()

    timer = ScheduleTimer(local_function(handler), {"Schedule": "rate(5 minutes)"}, period=0.05)
    timer.start()
    try:
        assert done.wait(5)
    finally:
        timer.stop()
    assert fired[0]["detail-type"] == "Scheduled Event" and fired[0]["source"] == "aws.events"


def test_a_failing_scheduled_run_does_not_stop_the_schedule() -> None:
    runs: list[int] = []

    def handler(event: dict[str, Any], ctx: Any) -> None:
        runs.append(1)
        raise RuntimeError("transient")

    timer = ScheduleTimer(local_function(handler), {"Schedule": "rate(1 minute)"}, period=0.02)
    timer.start()
    try:
        wait_until(lambda: len(runs) >= 3, timeout=5)
    finally:
        timer.stop()


@pytest.mark.parametrize(
    ("expression", "seconds"), [("rate(5 minutes)", 300), ("rate(1 hour)", 3600), ("rate(2 days)", 172800)]
)
def test_rate_expressions(expression: str, seconds: int) -> None:
    assert schedule_seconds(expression) == seconds


def test_cron_is_refused_loudly() -> None:
    with pytest.raises(ValueError, match="rate"):
        schedule_seconds("cron(0 12 * * ? *)")


def test_the_batching_window_gathers_records_that_arrive_later(queues: dict[str, str]) -> None:
    # Given a 2 s window and a queue whose visibility (1 s) is shorter than it (a bad set-up AWS refuses)
    batches: list[list[str]] = []
    send(queues["queue"], "first")
    poller = start_poller(
        queues,
        lambda event, ctx: batches.append([r["body"] for r in event["Records"]]),
        BatchSize=10,
        MaximumBatchingWindowInSeconds=2,
    )
    try:
        wait_until(lambda: visible(queues["queue"]) == 0, timeout=5)  # the poller holds "first"
        send(queues["queue"], "second")  # arrives while the window is open
        wait_until(lambda: bool(batches), timeout=15)
    finally:
        poller.stop()
    # Then both records come in one batch, and no record twice
    assert sorted(batches[0]) == ["first", "second"]
