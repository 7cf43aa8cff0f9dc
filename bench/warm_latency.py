"""Warm, in-process latency of the receiver's Lambda handler, against a handler that only parses
the JSON body and returns a fixed answer (the floor any receiver pays), measured in the same run.

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
from common import BENCH_ENV, ROOT, record, summary, table


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
    handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any], iterations: int
) -> list[float]:
    for _ in range(50):  # warm up: first-call imports, caches
        handler(event, Context())
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        handler(event, Context())
        samples.append(time.perf_counter() - start)
    return samples


def quiet() -> None:
    """Keep the measurement about the handler: Powertools logs and metrics go to /dev/null."""
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the rest of the run


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args(argv)
    os.environ.update(BENCH_ENV)
    real_stdout = sys.stdout
    quiet()
    receiver = runpy.run_path(str(ROOT / "functions" / "receiver" / "app.py"), run_name="receiver_app")[
        "lambda_handler"
    ]
    event = json.loads((ROOT / "events" / "api" / "pre-approval.sync.bearer.json").read_text())
    runs = {
        "JSON-only baseline": measure(json_only_handler, event, args.iterations),
        "SYNC pre-approval (receiver)": measure(receiver, event, args.iterations),
    }
    sys.stdout = real_stdout
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
        f"Warm in-process latency, {args.iterations} invocations each (NO_AUTH, logs and metrics to /dev/null)"
    )
    print(table(rows))
    record("warm_latency", figures)
    return figures


if __name__ == "__main__":
    main()
