"""Shared bench helpers: fresh-process timing, percentiles, the results file."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
# BENCH_RESULTS redirects the file (the smoke tests do, so a real run's figures survive them).
RESULTS = Path(os.environ.get("BENCH_RESULTS") or Path(__file__).resolve().parent / "results.json")
BENCH_ENV = {
    "INBOUND_AUTH_TYPE": "NO_AUTH",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    # the worker's settings (nothing is called at import time)
    "TENANT_API_URL": "https://bench.api.identitynow.com",
    "SAILPOINT_CLIENT_SECRET_ID": "bench-client",
    "IDEMPOTENCY_TABLE": "bench-idempotency",
    "WORK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-dlq",
    # the token refresher's and the credential rotator's
    "TOKEN_SECRET_ID": "bench-token",
    "WEBHOOK_BASE_URL": "https://bench.execute-api.us-east-1.amazonaws.com/v1/triggers/",
}

_TIMED_IMPORT = """
import sys, time
{setup}
start = time.perf_counter()
{code}
sys.stdout.write("\\n" + repr(time.perf_counter() - start))
"""


def time_in_fresh_process(
    code: str, runs: int, env: dict[str, str] | None = None, setup: str = ""
) -> list[float]:
    """Seconds spent running `code` in each of `runs` fresh interpreters (interpreter start and the
    untimed `setup` code excluded)."""
    samples = []
    environment = {**os.environ, **BENCH_ENV, **(env or {})}
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _TIMED_IMPORT.format(setup=setup, code=code)],
            capture_output=True,
            text=True,
            check=True,
            env=environment,
            cwd=ROOT,
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return samples


def interpreter_start(runs: int) -> list[float]:
    """Wall time of a bare `python -c pass`, the baseline subtracted from cold starts."""
    import time

    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        samples.append(time.perf_counter() - start)
    return samples


def summary(samples: list[float], scale: float = 1000.0) -> dict[str, float]:
    """Median, p99 and spread (IQR) in milliseconds by default."""
    ordered = sorted(samples)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [ordered[0]] * 3
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "median": round(statistics.median(ordered) * scale, 3),
        "p99": round(p99 * scale, 3),
        "iqr": round((quartiles[2] - quartiles[0]) * scale, 3),
        "n": len(ordered),
    }


def record(section: str, figures: dict[str, Any]) -> None:
    """Merge one script's figures into bench/results.json."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[section] = figures
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows)


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    """moto's server in its own process, as AWS is: in-process it would compete for this GIL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # benches purge queues often: moto's SendMessage slows down with queue depth, SQS's does not
        env={**os.environ, "MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR": "false"},
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(f"{endpoint}/moto-api/", timeout=1)
            return server, endpoint
        except requests.ConnectionError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("moto_server did not start")
