"""Cold import of the receiver with the full catalogue versus one trigger, in fresh interpreters.

    .venv/bin/python bench/cold_import_catalogue.py [--runs 15]

Scenarios, each run in a new interpreter; runs of different scenarios alternate so that machine
noise affects all of them alike:
- one:   ENABLED_TRIGGERS reduced to idn:identity-created (handler modules are found by rule, so
         there is no list of handlers to reduce), and the catalogue index read;
- full:  all 42 triggers enabled, and the catalogue index read (known_triggers());
- eager: "full", then every catalogue trigger's handler looked up, i.e. every handler and model
         module imported. This is what cold start would cost if the catalogue imported the models.
Each scenario reports the median wall time of the whole process minus the median of a bare
`python -c pass`, and the median time measured inside the process around the import.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "functions" / "receiver" / "app.py"
ONE = "idn:identity-created"

CHILD = """
import sys, time
from pathlib import Path
mode, app_path = sys.argv[1:3]
if mode != "bare":
    from idn_local.functions import load_function_module  # the loader itself is not timed
started = time.perf_counter()
if mode != "bare":
    app = load_function_module(Path(app_path), "receiver_app")
    from idn_triggers.catalogue import known_triggers
    known_triggers()
    if mode == "eager":
        for trigger_id in known_triggers():
            app.receiver.registry.get(trigger_id)
print(time.perf_counter() - started)
"""

SCENARIOS = ("bare", "one", "full", "eager")


def run_once(mode: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds of the whole process, seconds measured inside it)."""
    child_env = dict(env, ENABLED_TRIGGERS=ONE if mode == "one" else "*")
    command = [sys.executable, "-c", "pass"] if mode == "bare" else [sys.executable, "-c", CHILD]
    started = time.perf_counter()
    result = subprocess.run(
        [*command, mode, str(APP)], env=child_env, capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - started
    inside = float(result.stdout.strip().splitlines()[-1]) if mode != "bare" else 0.0
    return wall, inside


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("INBOUND_", "POWERTOOLS_", "AWS_ENDPOINT"))
    }
    env.update(
        INBOUND_AUTH_TYPE="NO_AUTH",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="x",
        POWERTOOLS_SERVICE_NAME="bench",
        AWS_DEFAULT_REGION=env.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    samples: dict[str, list[tuple[float, float]]] = {mode: [] for mode in SCENARIOS}
    run_once("full", env)  # warm the file cache and .pyc files; not counted
    for _ in range(args.runs):
        for mode in SCENARIOS:
            samples[mode].append(run_once(mode, env))
    bare = statistics.median(wall for wall, _ in samples["bare"])
    print(f"python {sys.version.split()[0]}, {args.runs} runs per scenario, medians")
    print(f"bare interpreter start: {bare * 1000:7.1f} ms")
    print(f"{'scenario':<8} {'wall - bare':>12} {'in-process':>12}")
    for mode in SCENARIOS[1:]:
        wall = statistics.median(w for w, _ in samples[mode]) - bare
        inside = statistics.median(i for _, i in samples[mode])
        print(f"{mode:<8} {wall * 1000:9.1f} ms {inside * 1000:9.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
