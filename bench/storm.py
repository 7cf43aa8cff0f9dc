"""Aggregation storms in local mode: a burst of fire-and-forget events, and ASYNC completions under
SailPoint's rate limit (100 requests per 10 s per client, enforced by the simulator).

    python bench/storm.py [--burst N] [--senders N] [--async N] [--deadline ISO] [--depth-probe N]

1. Burst: N fire-and-forget `idn:identity-created` events (unique identities) POSTed at once by
   `--senders` threads straight to the local receiver, as SailPoint would. Acknowledgement p50/p99,
   acknowledgements per second, the drain time (first POST to the last handler call), lost (acked,
   never handled) and doubled (handled twice), counted by the bench's own handler.
2. ASYNC: N pre-approvals fired by the simulator with `responseDeadline` `--deadline`; every
   completion takes its turn from the shared SailPoint budget. Completed before the deadline, 429s
   the simulator answered, and the completion rate against SailPoint's ~10/s ceiling (9/s budget).
3. moto's SQS slows as a queue deepens (SQS does not): SendMessage latency on a scratch queue at
   several depths, reported on its own so the burst's drain time can be read without it.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record, summary, table

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from idn_triggers.handlers import HandlerRegistry

TOKEN = "bench-storm-token"  # noqa: S105 - local bench credential
CREATED, PRE = "idn:identity-created", "idn:access-request-pre-approval"
SAILPOINT_CEILING = 10.0  # requests/s: 100 per 10 s


def example(trigger_id: str) -> dict[str, Any]:
    from idn_triggers.catalogue import trigger_document

    return dict(trigger_document(trigger_id)["exampleInput"])


def burst(runner: LocalRunner, count: int, senders: int) -> dict[str, Any]:
    import storm_handlers.identity_created as counted

    from trigger_handlers import HANDLER_EXCEPTIONS

    # the shipped handlers, but this bench's counting one for the burst's trigger
    sys.modules["local_fn_WorkerFunction"].worker.registry = HandlerRegistry(
        "trigger_handlers", {**HANDLER_EXCEPTIONS, CREATED: "storm_handlers.identity_created"}
    )
    base = example(CREATED)
    url = runner.webhook_url(CREATED)
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()
    local = threading.local()

    def send(number: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        payload = {**base, "identity": {**base["identity"], "id": f"storm-{number:06d}"}}
        began = time.perf_counter()
        response = session.post(url, json=payload, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        elapsed = time.perf_counter() - began
        with lock:  # in the order the acknowledgements came back: the queue is deeper for later ones
            latencies.append(elapsed)
            statuses.append(response.status_code)

    counted.HANDLED.clear()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=senders) as pool:
        list(pool.map(send, range(count)))
    acked_in = time.perf_counter() - started
    acked = sum(1 for s in statuses if s == 200)
    depth_at_end = work_queue_depth(runner)
    tenth = len(latencies) // 10  # --burst is at least 10
    stall = time.perf_counter()
    while len(counted.HANDLED) < acked and time.perf_counter() - stall < 120:
        before = len(counted.HANDLED)
        time.sleep(2)
        if len(counted.HANDLED) > before:
            stall = time.perf_counter()
    time.sleep(3)  # a doubled event would arrive here
    handled = dict(counted.HANDLED)
    return {
        "events": count,
        "senders": senders,
        "acked": acked,
        "refused": count - acked,
        "ack_ms": summary(latencies),
        # moto's SendMessage grows with the queue's depth (SQS's does not): each tenth of the
        # acknowledgements in the order they came back (the first tenth includes the cold starts),
        # with how deep the work queue was when the burst ended
        "ack_ms_by_tenth": [summary(latencies[i * tenth : (i + 1) * tenth]) for i in range(10)],
        "queue_depth_at_burst_end": depth_at_end,
        "acks_per_second": round(acked / acked_in, 1),
        "burst_seconds": round(acked_in, 2),
        "drain_seconds": round(counted.LAST[0] - started, 1),
        "handled_per_second": round(len(handled) / max(0.001, counted.LAST[0] - started), 1),
        "lost": acked - len(handled),
        "doubled": sum(n - 1 for n in handled.values()),
    }


def work_queue_depth(runner: LocalRunner) -> int:
    """Messages waiting in the work queue (not yet received by the worker)."""
    assert runner.stack is not None
    sqs = boto3.client("sqs", endpoint_url=runner.aws_endpoint, region_name="us-east-1")
    url = runner.stack.physical_ids["WorkQueue"]  # a queue's physical id is its URL
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def async_completions(runner: LocalRunner, count: int, deadline: str) -> dict[str, Any]:
    assert runner.tenant is not None and runner.simulator is not None
    for existing in runner.tenant.list_subscriptions():
        runner.tenant.delete_subscription(existing["id"])
    runner.tenant.create_subscription(
        {
            "name": "storm ASYNC",
            "triggerId": PRE,
            "type": "HTTP",
            "enabled": True,
            "responseDeadline": deadline,
            "httpConfig": {
                "url": runner.webhook_url(PRE),
                "httpDispatchMode": "ASYNC",
                "httpAuthenticationType": "BEARER_TOKEN",
                "bearerTokenAuthConfig": {"bearerToken": TOKEN},
            },
        }
    )
    limited_before = runner.simulator.stats.rate_limited
    started = time.perf_counter()
    fired = [r for _ in range(count) for r in runner.simulator.fire_event(PRE)]
    ids = {r.id for r in fired}
    settled: dict[str, Any] = {}
    stall = time.perf_counter()
    while len(settled) < len(ids) and time.perf_counter() - stall < 120:
        for invocation_id in ids - set(settled):
            current = runner.simulator.invocation(invocation_id)
            if current is not None and current.settled:
                settled[invocation_id] = current
                stall = time.perf_counter()
        time.sleep(1)
    completed = [
        r for r in settled.values() if r.state.value == "COMPLETED" and r.completed_via == "callback"
    ]
    in_time = [r for r in completed if r.deadline is None or r.completed <= r.deadline]
    times = sorted(r.completed for r in completed)
    span = (times[-1] - times[0]).total_seconds() if len(times) > 1 else 0.0
    return {
        "invocations": count,
        "deadline": deadline,
        "completed": len(completed),
        "completed_before_deadline": len(in_time),
        "not_completed": count - len(completed),
        "rate_limited_429": runner.simulator.stats.rate_limited - limited_before,
        "completions_per_second": round((len(times) - 1) / span, 2) if span else None,
        "ceiling_per_second": SAILPOINT_CEILING,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


def depth_probe(endpoint: str, depths: list[int], samples: int = 30) -> list[dict[str, Any]]:
    """moto's SendMessage latency on a scratch queue at each depth (SQS's does not grow with depth)."""
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"storm-depth-probe-{int(time.time())}")["QueueUrl"]
    rows, depth = [], 0
    for target in depths:
        while depth < target:
            batch = min(10, target - depth)
            sqs.send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x" * 200} for i in range(batch)]
            )
            depth += batch
        timings = []
        for _ in range(samples):
            began = time.perf_counter()
            sqs.send_message(QueueUrl=url, MessageBody="y" * 200)
            timings.append(time.perf_counter() - began)
            depth += 1
        rows.append({"depth": target, "send_ms": round(statistics.median(timings) * 1000, 2)})
    sqs.delete_queue(QueueUrl=url)
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", type=int, default=10_000, help="fire-and-forget events in one burst")
    parser.add_argument("--senders", type=int, default=32, help="concurrent senders for the burst")
    parser.add_argument("--async", dest="asynchronous", type=int, default=1_000, help="ASYNC invocations")
    parser.add_argument("--deadline", default="PT10M", help="the ASYNC subscription's responseDeadline")
    parser.add_argument("--depth-probe", default="0,2000,5000,10000", help="queue depths for moto's probe")
    args = parser.parse_args(argv)
    if args.burst < 10:
        parser.error("--burst must be at least 10 (its acknowledgements are reported by tenths)")
    logging.disable(logging.WARNING)  # the local stack's request lines; figures only
    options = LocalOptions(
        port=0,
        auth=InboundAuth.parse(f"bearer:{TOKEN}"),
        parameter_overrides={"ArchiveRetentionDays": "0", "WorkerBatchingWindowSeconds": "0"},
    )
    figures: dict[str, Any] = {}
    # The functions' log lines and metrics go to stdout: keep it for the figures.
    saved_stdout = os.dup(1)
    sys.stdout.flush()
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
    try:
        figures = run(args, options)
    finally:
        sys.stdout.flush()
        os.dup2(saved_stdout, 1)
        os.close(saved_stdout)
    report(figures)
    record("storm", figures)
    return figures


def run(args: argparse.Namespace, options: LocalOptions) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with LocalRunner(options) as runner:
        assert runner.simulator is not None
        runner.simulator.set_rate_limit(100)  # SailPoint's: 100 per 10 s per client and API version
        figures["burst"] = burst(runner, args.burst, args.senders)
        figures["async"] = async_completions(runner, args.asynchronous, args.deadline)
        depths = [int(d) for d in args.depth_probe.split(",") if d.strip()]
        figures["moto_sqs_depth"] = depth_probe(runner.aws_endpoint, depths)
    return figures


def report(figures: dict[str, Any]) -> None:
    b, a = figures["burst"], figures["async"]
    second, last = b["ack_ms_by_tenth"][1], b["ack_ms_by_tenth"][-1]
    print(
        table(
            [
                ("storm (local mode)", "figure"),
                (
                    f"burst of {b['events']} fire-and-forget, {b['senders']} senders: ack p50 / p99",
                    f"{b['ack_ms']['median']:.1f} / {b['ack_ms']['p99']:.1f} ms",
                ),
                (
                    "ack p50 / p99: 2nd tenth (warm, queue shallow); last tenth "
                    f"(work queue {b['queue_depth_at_burst_end']} deep at the end)",
                    f"{second['median']:.1f} / {second['p99']:.1f} ms; {last['median']:.1f} / {last['p99']:.1f} ms",
                ),
                (
                    "acknowledgements per second; burst took",
                    f"{b['acks_per_second']} /s; {b['burst_seconds']} s",
                ),
                (
                    "drain: first POST to last handler call; handled per second",
                    f"{b['drain_seconds']} s; {b['handled_per_second']} /s",
                ),
                (
                    "acked / refused / lost / doubled",
                    f"{b['acked']} / {b['refused']} / {b['lost']} / {b['doubled']}",
                ),
                (
                    f"{a['invocations']} ASYNC, deadline {a['deadline']}: completed before it / not completed",
                    f"{a['completed_before_deadline']} / {a['not_completed']}",
                ),
                ("429s answered by the simulator", str(a["rate_limited_429"])),
                (
                    "completion rate vs SailPoint's ceiling",
                    f"{a['completions_per_second']} /s vs {a['ceiling_per_second']} /s",
                ),
                *[
                    (f"moto SendMessage at queue depth {row['depth']}", f"{row['send_ms']} ms")
                    for row in figures["moto_sqs_depth"]
                ],
            ]
        )
    )


if __name__ == "__main__":
    main()
