"""What the delivery archive costs the acknowledgement path: the receiver's warm, in-process latency
with the archive on and off, in the same run, interleaved in rounds (on, off, on, off ...) so drift
on a shared machine hits both alike.

The receiver archives only what it answers itself (SYNC, DYNAMIC answered now): one S3 PutObject to
moto's server (its own process, loopback HTTP) after the answer is ready. Queued deliveries (ASYNC,
DYNAMIC deferred, fire-and-forget) are archived by the worker, off the acknowledgement path; they
still send one SQS message to moto on both sides. A bare PutObject of a typical record is timed too,
as the yardstick for "the archive costs one write".

    python bench/archive_cost.py [--iterations N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_ENV, ROOT, record, start_moto, summary, table
from warm_latency import TENANT, Context, mode_events

PATHS = ("SYNC pre-approval", "DYNAMIC answered now", "ASYNC ack", "fire-and-forget ack")


def put_alone(recorder: Any, body: dict[str, Any], count: int) -> list[float]:
    """Seconds per bare PutObject of a typical SYNC record: the yardstick."""
    from idn_triggers.archive import answered_record
    from idn_triggers.catalogue import TriggerType
    from idn_triggers.envelope import ResponseMode

    samples = []
    for _ in range(count):
        now = datetime.now(UTC)
        one = answered_record(
            trigger_id="idn:access-request-pre-approval",
            trigger_type=TriggerType.REQUEST_RESPONSE,
            mode=ResponseMode.SYNC,
            invocation_id=None,
            payload=body,
            status_code=200,
            outcome="answered",
            answer={"approved": True, "comment": "ok", "approver": "bench"},
            received_at=now,
            finished_at=now,
        )
        start = time.perf_counter()
        recorder.archive.put(one)
        samples.append(time.perf_counter() - start)
    return samples


def interleaved(
    handler: Any, receiver: Any, events: dict[str, Any], *, rounds: int, per_round: int, empty_queue: Any
) -> tuple[dict[str, dict[str, list[float]]], list[float]]:
    """Per-call seconds by path and side, alternating the archive on and off every round, and the
    bare PutObject yardstick timed in the same rounds."""
    recorder = receiver.archive
    body = json.loads(events["SYNC pre-approval"]["body"])
    puts: list[float] = []
    samples: dict[str, dict[str, list[float]]] = {path: {"on": [], "off": []} for path in PATHS}
    for path in PATHS:  # warm up both sides: first-call imports, clients, connections
        for archive in (recorder, None):
            receiver.archive = archive
            for _ in range(30):
                handler(events[path], Context())
    for _ in range(rounds):
        empty_queue()
        for side, archive in (("on", recorder), ("off", None)):
            receiver.archive = archive
            for path in PATHS:
                for _ in range(per_round):
                    start = time.perf_counter()
                    handler(events[path], Context())
                    samples[path][side].append(time.perf_counter() - start)
        puts += put_alone(recorder, body, per_round)
    receiver.archive = recorder
    return samples, puts


def report(samples: dict[str, dict[str, list[float]]], put_samples: list[float]) -> dict[str, Any]:
    figures: dict[str, Any] = {"PutObject alone": summary(put_samples)}
    rows = [("path", "p50 on ms", "p50 off ms", "on/off", "p99 on ms", "p99 off ms")]
    for path in PATHS:
        on, off = summary(samples[path]["on"]), summary(samples[path]["off"])
        ratio = round(statistics.median(samples[path]["on"]) / statistics.median(samples[path]["off"]), 2)
        figures[path] = {"on": on, "off": off, "ratio_on_off": ratio}
        rows.append(
            (
                path,
                f"{on['median']:.3f}",
                f"{off['median']:.3f}",
                f"{ratio:.2f}",
                f"{on['p99']:.3f}",
                f"{off['p99']:.3f}",
            )
        )
    put = figures["PutObject alone"]
    rows.append(("S3 PutObject alone (moto)", f"{put['median']:.3f}", "", "", f"{put['p99']:.3f}", ""))
    print(table(rows))
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=1000, help="calls per path and side")
    parser.add_argument("--rounds", type=int, default=10, help="on/off alternations")
    args = parser.parse_args(argv)
    per_round = max(1, args.iterations // args.rounds)
    os.environ.update(BENCH_ENV)
    moto, endpoint = start_moto()
    import boto3

    sqs = boto3.client("sqs", endpoint_url=endpoint)
    queue = sqs.create_queue(QueueName="bench-archive")["QueueUrl"]
    bucket = "bench-archivebucket"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "WORK_QUEUE_URL": queue,
            "TENANT_API_URL": TENANT,
            "PREAPPROVAL_REVIEW_ITEMS": "Engineering Access",
            "PRODUCT_TEST_REVIEW_ITEMS": "Engineering Access",  # the same, when the tests run it
            "ARCHIVE_BUCKET": bucket,
        }
    )
    real_stdout = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Powertools logs and metrics, for the rest of the run
    try:
        app = runpy.run_path(str(ROOT / "functions" / "receiver" / "app.py"), run_name="receiver_app")
        receiver = app["receiver"]
        assert receiver.archive is not None, "ARCHIVE_BUCKET did not turn the archive on"
        events = mode_events()
        samples, put_samples = interleaved(
            app["lambda_handler"],
            receiver,
            events,
            rounds=args.rounds,
            per_round=per_round,
            empty_queue=lambda: sqs.purge_queue(QueueUrl=queue),  # moto's SendMessage slows with depth
        )
    finally:
        sys.stdout = real_stdout
        moto.terminate()
        moto.wait(timeout=10)
    print(
        f"Acknowledgement latency with the delivery archive on vs off, same run, {args.rounds} interleaved "
        f"rounds, {per_round * args.rounds} calls per path and side (NO_AUTH; logs and metrics to /dev/null; "
        "S3 and SQS are moto over loopback HTTP)"
    )
    figures = report(samples, put_samples)
    record("archive_cost", figures)
    return figures


if __name__ == "__main__":
    main()
