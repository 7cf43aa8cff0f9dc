"""End to end in local mode: the tenant simulator's POST of an ASYNC pre-approval to its completion
being accepted (receiver -> SQS on moto -> poller -> worker -> callback), p50/p99 over many
invocations, and throughput with 1, 4 and 16 concurrent senders (each fires one event and waits for
its completion, then fires the next).

Baseline, in the same process: a SYNC pre-approval through the same simulator and receiver (POST
to the inline answer being accepted), the floor of any path through local mode's HTTP stack.

Configurations, each in a fresh process (local mode runs everything in one interpreter). The local
poller gathers a batch as Lambda's SQS mapping does (until it is full or the batching window has
passed since the first record):
- local:       local mode's default, WorkerBatchingWindowSeconds=0 (invoke at once);
- aws_window:  the template's default window (1 s), what an ASYNC invocation waits in AWS at low
               traffic.

The simulator's rate limit (SailPoint's: 100 requests per 10 s per token, i.e. at most 10
completions/s for one API client) is off while measuring the stack itself, and on again for one
throughput level with the most senders ("with SailPoint's rate limit"): that is the ceiling in AWS.

Latency is measured from the simulator's record of the invocation (`created`, just before its
delivery thread POSTs) to its `completed` time (the callback accepted), both taken in the simulator.

    python bench/e2e_local.py [--invocations N] [--per-level N] [--concurrency 1,4,16] [--lambda-window N]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, record, summary, table

PRE = "idn:access-request-pre-approval"
TOKEN = "bench-e2e-token"  # noqa: S105 - local bench credential
CONFIGS = {
    "local": "local mode (batching window {window:g} s)",
    "aws_window": "template default (batching window {window:g} s, as in AWS)",
}


# -- the child: one configuration, one local stack ------------------------------------------------
def subscribe(runner: Any, mode: str) -> None:
    for existing in runner.tenant.list_subscriptions():
        if existing["triggerId"] == PRE:
            runner.tenant.delete_subscription(existing["id"])
    runner.tenant.create_subscription(
        {
            "name": f"bench {mode}",
            "triggerId": PRE,
            "type": "HTTP",
            "enabled": True,
            "responseDeadline": "PT1H",
            "httpConfig": {
                "url": runner.webhook_url(PRE),
                "httpDispatchMode": mode,
                "httpAuthenticationType": "BEARER_TOKEN",
                "bearerTokenAuthConfig": {"bearerToken": TOKEN},
            },
        }
    )


def one(runner: Any) -> Any:
    """Fire one event and wait for its invocation to settle; the settled record.

    A callback can be accepted before the simulator has recorded the receiver's answer to its POST:
    wait for both."""
    [fired] = runner.simulator.fire_event(PRE)
    wanted = fired.id
    settled = runner.simulator.wait_for_invocation(
        lambda r: r.id == wanted and r.settled and r.delivery is not None, timeout=30
    )
    if settled.state.value != "COMPLETED":
        raise RuntimeError(f"invocation {wanted} {settled.state.value}: {settled.failure}")
    return settled


def seconds(later: Any, earlier: Any) -> float:
    return float((later - earlier).total_seconds())


def fresh_phase(runner: Any, mode: str, warm: int) -> None:
    """Forget earlier invocations (waits scan them all), subscribe, and warm the path."""
    runner.simulator.reset()  # also forgets every token issued so far:
    runner.tenant = runner.sailpoint_client(runner.simulator.url)  # ours,
    import boto3  # and the stored one, which the token refresher replaces as in AWS once it is gone

    boto3.client("secretsmanager", endpoint_url=runner.aws_endpoint).put_secret_value(
        SecretId=runner.stack.physical_ids["AccessTokenSecret"], SecretString="{}"
    )  # (it writes at most every 10 minutes otherwise)
    for timer in runner.timers:
        if timer.function.name.startswith("TokenRefresher"):
            timer.fire()
    subscribe(runner, mode)
    for _ in range(warm):
        one(runner)


def sequential(runner: Any, mode: str, count: int, warm: int) -> dict[str, Any]:
    fresh_phase(runner, mode, warm=warm)
    before = runner.simulator.stats
    total, ack, dispatch = [], [], []
    for _ in range(count):
        done = one(runner)
        total.append(seconds(done.completed, done.created))
        dispatch.append(seconds(done.delivery.at, done.created))
        ack.append(done.delivery.elapsed_seconds)
    after = runner.simulator.stats
    return {
        "post_to_completion_ms": summary(total),
        "delivery_answered_ms": summary(ack),
        "dispatch_ms": summary(dispatch),
        "rate_limited": after.rate_limited - before.rate_limited,
        "per_1000_invocations": {
            "token_requests": round(1000 * (after.token_requests - before.token_requests) / count, 2),
            "completions_accepted": round(
                1000 * (after.completions_accepted - before.completions_accepted) / count, 1
            ),
        },
    }


def concurrent(runner: Any, senders: int, count: int, warm: int) -> dict[str, Any]:
    fresh_phase(runner, "ASYNC", warm=warm)
    before = runner.simulator.stats
    lock = threading.Lock()
    remaining = [count]
    latencies: list[float] = []
    errors: list[str] = []

    def sender() -> None:
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            try:
                done = one(runner)
            except Exception as error:  # counted and reported, not fatal
                with lock:
                    errors.append(str(error))
                continue
            with lock:
                latencies.append(seconds(done.completed, done.created))

    threads = [threading.Thread(target=sender, name=f"sender-{i}") for i in range(senders)]
    began, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    after = runner.simulator.stats
    return {
        "senders": senders,
        "invocations": count,
        "failed": len(errors),
        "wall_s": round(wall, 3),
        "invocations_per_second": round(len(latencies) / wall, 1),
        # the whole local stack's CPU (all threads, moto included): 1.0 = one core, the GIL's ceiling
        "process_cpu_per_wall": round(cpu / wall, 2),
        "process_cpu_ms_per_invocation": round(1000 * cpu / count, 1),
        "post_to_completion_ms": summary(latencies) if latencies else None,
        "token_requests": after.token_requests - before.token_requests,
        "rate_limited": after.rate_limited - before.rate_limited,
    }


def child(config: str, args: argparse.Namespace) -> dict[str, Any]:
    logging.disable(logging.CRITICAL)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - EMF metric lines off the figures
    from idn_local.runner import InboundAuth, LocalOptions, LocalRunner

    overrides = {"WorkerBatchingWindowSeconds": "1"} if config == "aws_window" else {}
    options = LocalOptions(port=0, auth=InboundAuth.parse(f"bearer:{TOKEN}"), parameter_overrides=overrides)
    with LocalRunner(options) as runner:
        [poller] = runner.pollers
        simulator = runner.simulator
        assert simulator is not None  # no --tenant-url: local mode started its simulator
        count = args.lambda_window if config == "aws_window" else args.invocations
        sailpoint_limit = simulator.config.rate_limit_per_10s
        # SailPoint's limit (100 requests per 10 s per token) caps completions at 10/s: off for
        # the stack's own latency and ceiling, on again for one throughput level at the end.
        simulator.set_rate_limit(None)
        figures: dict[str, Any] = {
            "configuration": CONFIGS[config].format(window=poller.window),
            "batching_window_s": poller.window,
            "batch_size": poller.batch_size,
            "sync_baseline": sequential(runner, "SYNC", count, args.warm),
            "async": sequential(runner, "ASYNC", count, args.warm),
        }
        if config != "aws_window":
            figures["throughput"] = [
                concurrent(runner, c, args.per_level, args.warm) for c in args.concurrency
            ]
        if config == "local" and sailpoint_limit:
            simulator.set_rate_limit(sailpoint_limit)
            limited = concurrent(runner, max(args.concurrency), args.per_level, args.warm)
            figures["throughput_with_sailpoint_rate_limit"] = {
                **limited,
                "rate_limit_per_10s": sailpoint_limit,
            }
        return figures


# -- the parent: one child per configuration, then the tables -----------------------------------
def run_child(config: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            config,
            "--out",
            out.name,
            "--invocations",
            str(args.invocations),
            "--per-level",
            str(args.per_level),
            "--concurrency",
            ",".join(map(str, args.concurrency)),
            "--lambda-window",
            str(args.lambda_window),
            "--warm",
            str(args.warm),
        ]
        subprocess.run(command, check=True, cwd=ROOT)
        return dict(json.loads(Path(out.name).read_text()))


def ms(stats: dict[str, float], key: str = "median") -> str:
    return f"{stats[key]:.1f}"


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    rows: list[tuple[str, ...]] = [
        ("configuration", "n", "ASYNC p50 ms", "p99 ms", "ack p50 ms", "SYNC p50 ms", "x SYNC")
    ]
    for figures in results.values():
        async_ = figures["async"]["post_to_completion_ms"]
        sync = figures["sync_baseline"]["post_to_completion_ms"]
        ratio = round(async_["median"] / sync["median"], 2)
        figures["async"]["ratio_to_sync_baseline"] = ratio
        rows.append(
            (
                figures["configuration"],
                str(async_["n"]),
                ms(async_),
                ms(async_, "p99"),
                ms(figures["async"]["delivery_answered_ms"]),
                ms(sync),
                f"{ratio:.1f}",
            )
        )
    print(
        "Local mode end to end: simulator POST -> completion accepted, ASYNC pre-approval, one sender "
        "(SYNC pre-approval through the same stack as the baseline; 'ack' is the receiver's answer "
        "to the POST)"
    )
    print(table(rows))
    rows = [
        ("configuration", "senders", "invocations/s", "p50 ms", "p99 ms", "CPU ms/inv", "CPU/wall", "failed")
    ]
    for figures in results.values():
        levels = list(figures.get("throughput", []))
        if "throughput_with_sailpoint_rate_limit" in figures:
            levels.append(figures["throughput_with_sailpoint_rate_limit"])
        for level in levels:
            stats = level["post_to_completion_ms"] or {"median": math.nan, "p99": math.nan}
            rows.append(
                (
                    figures["configuration"],
                    str(level["senders"])
                    + (
                        f", SailPoint limit {level['rate_limit_per_10s']}/10 s"
                        if "rate_limit_per_10s" in level
                        else ""
                    ),
                    f"{level['invocations_per_second']:.1f}",
                    ms(stats),
                    ms(stats, "p99"),
                    f"{level['process_cpu_ms_per_invocation']:.1f}",
                    f"{level['process_cpu_per_wall']:.2f}",
                    str(level["failed"]),
                )
            )
    print(
        f"\nThroughput, {args.per_level} ASYNC invocations per level, each sender fires then waits "
        "(CPU: the local stack's process, moto included; 1.0 CPU/wall is one core, the GIL's ceiling). "
        "The simulator's rate limit is off except where marked: SailPoint allows 100 requests per 10 s "
        "per token, so one API client completes at most 10 invocations/s"
    )
    print(table(rows))
    calls = results["local"]["async"]["per_1000_invocations"]
    print(
        f"\nSailPoint calls per 1,000 ASYNC invocations in local mode (steady state): "
        f"{calls['token_requests']} token, {calls['completions_accepted']} completions"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invocations", type=int, default=300, help="sequential ASYNC and SYNC invocations")
    parser.add_argument("--per-level", type=int, default=240, help="invocations per concurrency level")
    parser.add_argument(
        "--concurrency", type=lambda text: [int(n) for n in text.split(",")], default=[1, 4, 16]
    )
    parser.add_argument(
        "--lambda-window",
        type=int,
        default=15,
        help="invocations with the template's default 1 s window (0: skip)",
    )
    parser.add_argument("--warm", type=int, default=20, help="unmeasured invocations before each phase")
    parser.add_argument("--child", choices=sorted(CONFIGS), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        figures = child(args.child, args)
        Path(args.out).write_text(json.dumps(figures))
        return figures
    configs = [c for c in CONFIGS if c != "aws_window" or args.lambda_window > 0]
    results = {config: run_child(config, args) for config in configs}
    report(results, args)
    record("e2e_local", results)
    return results


if __name__ == "__main__":
    main()
