"""Cold import of each function module in fresh processes, against two baselines run alongside:
a bare interpreter, and a naive handler importing every Powertools utility eagerly. Also the
receiver's whole cold path: its import plus the first SYNC pre-approval answer, in one process.

    python bench/cold_import.py [--runs N]

Runs are interleaved (one process of each candidate in turn, N rounds), so load from other work on
the machine falls on the baseline and the functions alike and the ratios stay comparable.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, interpreter_start, record, summary, table, time_in_fresh_process

NAIVE_HANDLER = """
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent
from aws_lambda_powertools.utilities.parser import parse, BaseModel
logger, metrics, tracer, app = Logger(), Metrics(), Tracer(), APIGatewayRestResolver()
processor = BatchProcessor(event_type=EventType.SQS)
persistence = DynamoDBPersistenceLayer(table_name="idempotency")
"""
NAIVE = "naive eager Powertools handler"
COLD_PATH = "receiver import + first SYNC answer"

# What template.yaml's Globals set for every function and that changes import work: no pydantic
# plugin scan (pydantic otherwise reads every installed distribution's entry points on the first
# model). Applied to every process here, the baseline too (it builds no model, so it never scans).
TEMPLATE_ENV = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}
# Variables a function needs beyond common.BENCH_ENV (which configures a NO_AUTH receiver).
ROLE_ENV = {"credential_rotator": {"INBOUND_AUTH_TYPE": "BEARER_TOKEN"}}

# Untimed: read the event and build a context, so the timed part is the function's own work.
FIRST_ANSWER_SETUP = f"""
import json, runpy, types
event = json.loads(open({str(ROOT / "events" / "api" / "pre-approval.sync.bearer.json")!r}).read())
context = types.SimpleNamespace(function_name="receiver", memory_limit_in_mb=512, aws_request_id="bench",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:receiver")
"""
FIRST_ANSWER = f"""
app = runpy.run_path({str(ROOT / "functions" / "receiver" / "app.py")!r}, run_name="app")
response = app["lambda_handler"](event, context)
assert response["statusCode"] == 200, response
"""


def function_import(role: str) -> str:
    path = ROOT / "functions" / role / "app.py"
    return f"runpy.run_path({str(path)!r}, run_name='app')"


def candidates() -> dict[str, tuple[str, str, dict[str, str]]]:
    """name: (setup, timed code, extra environment)."""
    found: dict[str, tuple[str, str, dict[str, str]]] = {NAIVE: ("", NAIVE_HANDLER, TEMPLATE_ENV)}
    for role in sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").exists()):
        found[f"functions/{role}"] = (
            "import runpy",
            function_import(role),
            {**TEMPLATE_ENV, **ROLE_ENV.get(role, {})},
        )
    found[COLD_PATH] = (FIRST_ANSWER_SETUP, FIRST_ANSWER, TEMPLATE_ENV)
    return found


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    bare = interpreter_start(args.runs)
    measured: dict[str, list[float]] = {}
    failed: dict[str, str] = {}
    todo = candidates()
    for _ in range(args.runs):
        for name, (setup, code, env) in todo.items():
            if name in failed:
                continue
            try:
                measured.setdefault(name, []).extend(time_in_fresh_process(code, 1, env, setup))
            except subprocess.CalledProcessError as error:  # e.g. a new function needing a variable
                lines = (error.stderr or "").strip().splitlines()
                failed[name] = lines[-1] if lines else f"exit status {error.returncode}"
                measured.pop(name, None)
    naive = statistics.median(measured[NAIVE])
    rows = [("module", "median ms", "p99 ms", "IQR ms", "x naive")]
    figures: dict[str, object] = {"bare_interpreter_ms": summary(bare)}
    for name, samples in measured.items():
        stats = summary(samples)
        ratio = round(statistics.median(samples) / naive, 3)
        figures[name] = {**stats, "ratio_to_naive": ratio}
        rows.append(
            (name, f"{stats['median']:.1f}", f"{stats['p99']:.1f}", f"{stats['iqr']:.1f}", f"{ratio:.2f}")
        )
    for name, reason in failed.items():
        figures[name] = {"error": reason}
        rows.append((name, "failed", reason[:60], "", ""))
    print(
        f"Cold import, {args.runs} fresh processes each (interleaved), timed inside the process: the bare "
        f"interpreter's start ({summary(bare)['median']:.1f} ms wall) is not in these figures. "
        f"'{COLD_PATH}': NO_AUTH, the handler called once with events/api/pre-approval.sync.bearer.json."
    )
    print(table(rows))
    record("cold_import", figures)
    return figures


if __name__ == "__main__":
    main()
