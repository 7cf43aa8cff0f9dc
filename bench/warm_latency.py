"""Warm, in-process latency of the receiver's Lambda handler for every mode, against a handler that
only parses the JSON body and returns a fixed answer (the floor any receiver pays), in the same run.

Paths that queue (ASYNC, DYNAMIC deferred, fire-and-forget) include one SQS SendMessage to moto's
server in its own process over loopback HTTP; AWS's SQS typically answers in a few milliseconds.

    python bench/warm_latency.py [--iterations N]
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_ENV, ROOT, record, start_moto, summary, table

TENANT = "https://acme.api.identitynow.com"


class Context:
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 8000


def json_only_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    json.loads(event["body"])
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": '{"approved":true,"comment":"ok","approver":"bench"}',
    }


def measure(
    handler: Callable[[dict[str, Any], Any], Any],
    event: dict[str, Any],
    iterations: int,
    between: Callable[[], None] | None = None,
) -> list[float]:
    """Per-call seconds; `between` runs untimed after the warm-up and every 100 calls."""
    for _ in range(50):  # warm up: first-call imports, caches
        handler(event, Context())
    samples = []
    for done in range(iterations):
        if between is not None and done % 100 == 0:
            between()
        start = time.perf_counter()
        handler(event, Context())
        samples.append(time.perf_counter() - start)
    return samples


def quiet() -> None:
    """Keep the measurement about the handler: Powertools logs and metrics go to /dev/null."""
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the rest of the run


class NullQueue:
    """Accepts messages without sending them: isolates the receiver's own cost."""

    def send(self, message: Any) -> str:
        message.model_dump_json()  # the serialisation stays in the measurement
        return "null"


def with_body(event: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return {**event, "body": json.dumps(body)}


def mode_events() -> dict[str, dict[str, Any]]:
    """One API Gateway event per path through the receiver."""
    sync = json.loads((ROOT / "events" / "api" / "pre-approval.sync.bearer.json").read_text())
    example = json.loads(sync["body"])
    quick = json.loads(sync["body"])
    quick["requestedItems"][0]["name"] = "Read-only Access"  # not under review: answered now
    metadata = {
        "callbackURL": f"{TENANT}/trigger-invocations/v1/0f5b9f6e/complete",
        "secret": "bench-secret",
        "triggerId": "idn:access-request-pre-approval",
        "triggerType": "requestResponse",
    }
    fire = json.loads((ROOT / "events" / "api" / "identity-created.json").read_text())
    return {
        "SYNC pre-approval": with_body(sync, quick),
        "ASYNC ack": with_body(sync, {**example, "_metadata": {**metadata, "responseMode": "async"}}),
        "DYNAMIC answered now": with_body(
            sync, {**quick, "_metadata": {**metadata, "responseMode": "dynamic"}}
        ),
        "DYNAMIC deferred (202)": with_body(
            sync, {**example, "_metadata": {**metadata, "responseMode": "dynamic"}}
        ),
        "fire-and-forget ack": fire,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args(argv)
    os.environ.update(BENCH_ENV)
    moto, endpoint = start_moto()
    import boto3

    sqs = boto3.client("sqs", endpoint_url=endpoint)
    queue = sqs.create_queue(QueueName="bench-receiver")["QueueUrl"]

    def empty_queue() -> None:
        """moto's SendMessage costs ~9 ms more per 1,000 queued messages (SQS's does not): keep it short."""
        sqs.purge_queue(QueueUrl=queue)

    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "WORK_QUEUE_URL": queue,
            "TENANT_API_URL": TENANT,
            "PREAPPROVAL_REVIEW_ITEMS": "Engineering Access",
            "PRODUCT_TEST_REVIEW_ITEMS": "Engineering Access",  # the same, when the tests run it
        }
    )
    real_stdout = sys.stdout
    quiet()
    try:
        app = runpy.run_path(str(ROOT / "functions" / "receiver" / "app.py"), run_name="receiver_app")
        receiver = app["lambda_handler"]
        events = mode_events()
        runs = {
            "JSON-only baseline": measure(json_only_handler, events["SYNC pre-approval"], args.iterations)
        }
        for name, event in events.items():
            runs[name] = measure(receiver, event, args.iterations, empty_queue)
        app["receiver"].queue = NullQueue()  # the same paths without the SQS round trip
        for name in ("ASYNC ack", "DYNAMIC deferred (202)", "fire-and-forget ack"):
            runs[f"{name}, no SQS send"] = measure(receiver, events[name], args.iterations)
    finally:
        sys.stdout = real_stdout
        moto.terminate()
        moto.wait(timeout=10)
    base = statistics.median(runs["JSON-only baseline"])
    rows = [("path", "p50 ms", "p99 ms", "IQR ms", "x baseline")]
    figures: dict[str, Any] = {}
    for name, samples in runs.items():
        stats = summary(samples)
        ratio = round(statistics.median(samples) / base, 2)
        figures[name] = {**stats, "ratio_to_baseline": ratio}
        rows.append(
            (name, f"{stats['median']:.3f}", f"{stats['p99']:.3f}", f"{stats['iqr']:.3f}", f"{ratio:.1f}")
        )
    print(
        f"Warm in-process latency, {args.iterations} invocations each (NO_AUTH, logs and metrics to /dev/null; "
        "queued paths include an SQS send to moto's server unless marked)"
    )
    print(table(rows))
    record("warm_latency", figures)
    return figures


if __name__ == "__main__":
    main()
