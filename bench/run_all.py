"""Every benchmark in sequence with its default counts (the storm at 2,000 and 300, not its full
size), then the Goals table: each goal of issue 8,
the measured value, its baseline from the same run, the ratio, and whether it is met.

    python bench/run_all.py [--quick] [--only NAME ...] [--skip NAME ...]

Each script runs in its own process and merges its figures into one results file; at the end that
file (with a "goals" and a "machine" section) becomes bench/results.json (or $BENCH_RESULTS).
`--quick` passes tiny counts: it checks that everything runs, its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT, table

BENCH = Path(__file__).resolve().parent
# name: (arguments for a full run, arguments for --quick)
SCRIPTS: dict[str, tuple[list[str], list[str]]] = {
    "cold_import": ([], ["--runs", "2"]),
    "warm_latency": ([], ["--iterations", "20"]),
    "archive_cost": ([], ["--iterations", "20", "--rounds", "2"]),
    "worker_batch": ([], ["--batches", "1", "--callback-ms", "5"]),
    "local_mode": ([], ["--starts", "1", "--requests", "5"]),
    "e2e_local": (
        [],
        [
            "--invocations",
            "5",
            "--per-level",
            "8",
            "--concurrency",
            "1,2",
            "--lambda-window",
            "0",
            "--warm",
            "3",
        ],
    ),
    "layer_size": ([], ["--no-baseline"]),
    "eventbridge_latency": ([], ["--invocations", "3", "--warm", "1"]),
    "reconcile": ([], ["--entries", "100"]),
    # the full size (10,000 and 1,000, the script's defaults) takes ~45 minutes here: run it alone
    "storm": (
        ["--burst", "2000", "--async", "300", "--depth-probe", "0,2000"],
        ["--burst", "50", "--senders", "8", "--async", "20", "--depth-probe", "0,100"],
    ),
    "handler_reload": ([], ["--edits", "3"]),
}


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_average_1m_at_start": round(load[0], 2),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def get(results: dict[str, Any], *path: str) -> Any:
    """A nested value, or None when a script did not run or did not produce it."""
    value: Any = results
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


Goal = tuple[str, str, str, str, str, str]  # goal, measured, baseline, ratio, met, note


def goal_row(
    goal: str,
    measured: float | None,
    baseline: float | None,
    met: Callable[[float, float | None], bool],
    *,
    unit: str,
    baseline_label: str = "",
    note: str = "",
    digits: int = 1,
) -> Goal:
    if measured is None:
        return (goal, "not measured", "", "", "-", note)
    ratio = f"{measured / baseline:.2f}x" if baseline else ""
    base = f"{baseline_label} {baseline:.{digits}f} {unit}" if baseline is not None else baseline_label
    return (
        goal,
        f"{measured:.{digits}f} {unit}",
        base,
        ratio,
        "yes" if met(measured, baseline) else "NO",
        note,
    )


def goals(results: dict[str, Any]) -> list[Goal]:
    rows: list[Goal] = []
    naive = get(results, "cold_import", "naive eager Powertools handler", "median")
    rows.append(
        goal_row(
            "receiver cold import <= 0.25x naive handler",
            get(results, "cold_import", "functions/receiver", "median"),
            naive,
            lambda m, b: b is not None and m <= 0.25 * b,
            unit="ms",
            baseline_label="naive eager Powertools",
            note="import timed in-process: bare interpreter start excluded from both",
            digits=0,
        )
    )
    sync = get(results, "warm_latency", "SYNC pre-approval", "median")
    floor = get(results, "warm_latency", "JSON-only baseline", "median")
    for goal, met, note in (
        ("warm SYNC pre-approval p50 <= 1 ms", lambda m, b: m <= 1.0, ""),
        (
            "warm SYNC pre-approval p50 <= 5x JSON-only",
            lambda m, b: b is not None and m <= 5 * b,
            "5x a ~5 us floor is ~25 us: no routed, validated handler fits",
        ),
    ):
        rows.append(
            goal_row(goal, sync, floor, met, unit="ms", baseline_label="JSON-only", note=note, digits=3)
        )
    put = get(results, "archive_cost", "PutObject alone", "median")
    for path in ("SYNC pre-approval", "DYNAMIC answered now"):
        on = get(results, "archive_cost", path, "on", "median")
        off = get(results, "archive_cost", path, "off", "median")
        rows.append(
            goal_row(
                f"archive: {path} p50 on - off <= 1.5x one S3 PutObject",
                None if on is None or off is None else on - off,
                put,
                lambda m, b: b is not None and m <= 1.5 * b,
                unit="ms",
                baseline_label="PutObject",
                note=f"on/off {on / off:.1f}x: the receiver writes its own answers" if on and off else "",
                digits=3,
            )
        )
    for path in ("ASYNC ack", "fire-and-forget ack"):
        rows.append(
            goal_row(
                f"archive: {path} p50 on <= 1.2x off",
                get(results, "archive_cost", path, "on", "median"),
                get(results, "archive_cost", path, "off", "median"),
                lambda m, b: b is not None and m <= 1.2 * b,
                unit="ms",
                baseline_label="archive off",
                note="archived by the worker, off the acknowledgement path",
                digits=3,
            )
        )
    one = get(results, "worker_batch", "one_callback_ms", "median")
    for label, note in (
        ("idempotency on (moto)", "as shipped; moto serves DynamoDB one request at a time"),
        ("idempotency off", "the worker's own cost"),
    ):
        rows.append(
            goal_row(
                f"worker batch of 10 <= 1.5x one callback ({label})",
                get(results, "worker_batch", f"batch_10, {label}", "median"),
                one,
                lambda m, b: b is not None and m <= 1.5 * b,
                unit="ms",
                baseline_label="one callback",
                note=note,
            )
        )
    for config, label, note in (
        ("local", "local mode, window 0", "~5 moto calls at 4-6 ms CPU each, one GIL"),
    ):
        rows.append(
            goal_row(
                f"local ASYNC POST-to-completion p50 <= 50 ms ({label})",
                get(results, "e2e_local", config, "async", "post_to_completion_ms", "median"),
                get(results, "e2e_local", config, "sync_baseline", "post_to_completion_ms", "median"),
                lambda m, b: m <= 50.0,
                unit="ms",
                baseline_label="SYNC via local stack",
                note=note,
            )
        )
    faithful = get(results, "e2e_local", "aws_window", "async", "post_to_completion_ms", "median")
    if faithful is not None:
        rows.append(
            goal_row(
                "local ASYNC p50 <= 50 ms (the template's 1 s window, as in AWS)",
                faithful,
                get(results, "e2e_local", "aws_window", "sync_baseline", "post_to_completion_ms", "median"),
                lambda m, b: m <= 50.0,
                unit="ms",
                baseline_label="SYNC via local stack",
                note="what the template's 1 s window costs in AWS at low traffic",
                digits=0,
            )
        )
    eventbridge = get(results, "eventbridge_latency", "eventbridge_created_to_completion_ms", "median")
    if eventbridge is not None:
        rows.append(
            goal_row(
                "local EventBridge pre-approval p50 <= 1.5x HTTP ASYNC (issue 14)",
                eventbridge,
                get(results, "eventbridge_latency", "http_async_created_to_completion_ms", "median"),
                lambda m, b: b is not None and m <= 1.5 * b,
                unit="ms",
                baseline_label="HTTP ASYNC, same run",
                note="moto delivers inside PutEvents; AWS adds EventBridge's own delivery time",
            )
        )
    unpruned = get(results, "layer_size", "unpruned_baseline", "unzipped_mb")
    zipped = get(results, "layer_size", "layer", "zipped_mb")
    rows.append(
        goal_row(
            "library layer <= 20 MB unzipped",
            get(results, "layer_size", "layer", "unzipped_mb"),
            unpruned,
            lambda m, b: m <= 20.0,
            unit="MB",
            baseline_label="nothing pruned" if unpruned is not None else "",
            note=f"{zipped:.1f} MB zipped" if zipped is not None else "",
        )
    )
    tokens = {
        "worker bench": get(results, "worker_batch", "per_1000_invocations", "token_requests"),
        "local mode": get(results, "e2e_local", "local", "async", "per_1000_invocations", "token_requests"),
    }
    measured = {name: value for name, value in tokens.items() if value is not None}
    rows.append(
        (
            "zero token requests outside the refresher (steady state)",
            " / ".join(f"{name} {value:g} per 1,000" for name, value in measured.items()) or "not measured",
            "1,000 completions per 1,000" if measured else "",
            "",
            ("yes" if all(value == 0 for value in measured.values()) else "NO") if measured else "-",
            "token grants by the refresher only" if measured else "",
        )
    )
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks that everything runs")
    parser.add_argument(
        "--only", action="append", choices=sorted(SCRIPTS), help="run only these (repeatable)"
    )
    parser.add_argument("--skip", action="append", choices=sorted(SCRIPTS), default=[], help="skip these")
    args = parser.parse_args(argv)
    chosen = [name for name in SCRIPTS if (not args.only or name in args.only) and name not in args.skip]
    info = machine()
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-run-") as scratch:
        scratch_results = Path(scratch) / "results.json"
        environment = {**os.environ, "BENCH_RESULTS": str(scratch_results)}
        for name in chosen:
            full, quick = SCRIPTS[name]
            print(f"\n=== {name} ===", flush=True)
            began = time.perf_counter()
            done = subprocess.run(
                [sys.executable, str(BENCH / f"{name}.py"), *(quick if args.quick else full)],
                cwd=ROOT,
                env=environment,
                check=False,
            )
            print(f"({name}: {time.perf_counter() - began:.0f} s)", flush=True)
            if done.returncode != 0:
                failed.append(name)
        results = json.loads(scratch_results.read_text()) if scratch_results.exists() else {}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    info["load_average_1m_at_end"] = round(load, 2)
    info["quick"] = args.quick
    rows = goals(results)
    results["machine"] = info
    results["goals"] = [
        dict(zip(("goal", "measured", "baseline", "ratio", "met", "note"), row, strict=True)) for row in rows
    ]
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(
        f"\n=== Goals === ({info['cpus']} CPUs, Python {info['python']}, load average "
        f"{info['load_average_1m_at_start']} -> {info['load_average_1m_at_end']}"
        + ("; --quick: figures are meaningless" if args.quick else "")
        + ")"
    )
    print(table([("goal", "measured", "baseline (same run)", "ratio", "met", "note"), *rows]))
    print(f"\nFigures: {RESULTS}")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        raise SystemExit(1)
    return results


if __name__ == "__main__":
    main()
