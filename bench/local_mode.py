"""Local mode: time from start to ready, and a SYNC pre-approval's round trip through the local HTTP
stack (API Gateway emulation) against calling the same Lambda handler directly, in the same run.

    python bench/local_mode.py [--starts N] [--requests N]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, record, summary, table

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner

TOKEN = "bench-token"  # noqa: S105 - local bench credential


def start_to_ready() -> tuple[float, int]:
    """Seconds from launching `python -m idn_local --no-demo` to its "Serving" line; then Ctrl-C.

    Also the number of Ctrl-C it missed (see `stop`)."""
    began = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "idn_local", "--port", "0", "--no-demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Serving"):
            break
    elapsed = time.perf_counter() - began
    return elapsed, stop(process)


def stop(process: subprocess.Popen[str]) -> int:
    """Ctrl-C, as a user would, again while missed (up to 3), then SIGKILL; how many were missed."""
    for missed in range(3):
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
            return missed
        except subprocess.TimeoutExpired:
            continue
    process.kill()
    process.wait()
    return 3


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args(argv)
    # Started in the background by a non-interactive shell (`cmd &`), this process ignores SIGINT
    # and its children would inherit that and never see the Ctrl-C: handle it, so they do not.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    logging.disable(logging.CRITICAL)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    sys.stdout, real_stdout = open(os.devnull, "w"), sys.stdout  # noqa: SIM115 - EMF lines off the table
    options = LocalOptions(port=0, auth=InboundAuth.parse(f"bearer:{TOKEN}"))
    runs = [start_to_ready() for _ in range(args.starts)]
    starts = [elapsed for elapsed, _ in runs]
    missed_interrupts = sum(missed for _, missed in runs)
    event = json.loads((ROOT / "events" / "api" / "pre-approval.sync.bearer.json").read_text())
    event["headers"]["Authorization"] = event["multiValueHeaders"]["Authorization"][0] = f"Bearer {TOKEN}"
    with LocalRunner(options) as runner:
        receiver = runner.functions["ReceiverFunction"]
        session = requests.Session()
        url = runner.webhook_url("idn:access-request-pre-approval")
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        body = event["body"]
        direct, http = [], []
        for _ in range(20):  # warm both paths
            receiver.invoke(event)
            session.post(url, data=body, headers=headers, timeout=5)
        for _ in range(args.requests):
            began = time.perf_counter()
            assert receiver.invoke(event)["statusCode"] == 200
            direct.append(time.perf_counter() - began)
            began = time.perf_counter()
            assert session.post(url, data=body, headers=headers, timeout=5).status_code == 200
            http.append(time.perf_counter() - began)
    sys.stdout = real_stdout
    ratio = round(statistics.median(http) / statistics.median(direct), 2)
    ready_s, direct_ms, http_ms = summary(starts, scale=1.0), summary(direct), summary(http)
    figures: dict[str, Any] = {
        "start_to_ready_s": ready_s,
        "direct_handler_ms": direct_ms,
        "local_http_ms": http_ms,
        "http_over_direct": ratio,
        "missed_interrupts": missed_interrupts,
    }
    print(
        f"Local mode: launch to ready (fresh process, moto + simulator + functions), median of {args.starts}: "
        f"{ready_s['median']:.2f} s"
    )
    if missed_interrupts:
        print(f"warning: {missed_interrupts} Ctrl-C (SIGINT) did not stop idn_local within 10 s")
    print(
        table(
            [
                ("SYNC pre-approval", "p50 ms", "p99 ms", "x direct"),
                (
                    "handler called directly",
                    f"{direct_ms['median']:.3f}",
                    f"{direct_ms['p99']:.3f}",
                    "1.0",
                ),
                (
                    "through local HTTP stack",
                    f"{http_ms['median']:.3f}",
                    f"{http_ms['p99']:.3f}",
                    f"{ratio:.1f}",
                ),
            ]
        )
    )
    record("local_mode", figures)
    return figures


if __name__ == "__main__":
    main()
