"""Cold import of each function module in fresh processes, against two baselines run alongside:
a bare interpreter, and a naive handler importing every Powertools utility eagerly.

    python bench/cold_import.py [--runs N]
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


# Variables a function needs beyond common.BENCH_ENV (which configures a NO_AUTH receiver).
ROLE_ENV = {"credential_rotator": {"INBOUND_AUTH_TYPE": "BEARER_TOKEN"}}


def function_import(role: str) -> str:
    path = ROOT / "functions" / role / "app.py"
    return f"import runpy; runpy.run_path({str(path)!r}, run_name='app')"


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    bare = interpreter_start(args.runs)
    measured = {"naive eager Powertools handler": time_in_fresh_process(NAIVE_HANDLER, args.runs)}
    failed: dict[str, str] = {}
    for role in sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").exists()):
        try:
            measured[f"functions/{role}"] = time_in_fresh_process(
                function_import(role), args.runs, ROLE_ENV.get(role)
            )
        except subprocess.CalledProcessError as error:  # e.g. a new function needing a variable
            lines = (error.stderr or "").strip().splitlines()
            failed[f"functions/{role}"] = lines[-1] if lines else f"exit status {error.returncode}"
    naive = statistics.median(measured["naive eager Powertools handler"])
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
        rows.append((name, "import failed", reason[:60], "", ""))
    print(
        f"Cold import, {args.runs} fresh processes each, timed inside the process around the import: "
        f"the bare interpreter's start ({summary(bare)['median']:.1f} ms wall) is not in these figures."
    )
    print(table(rows))
    record("cold_import", figures)
    return figures


if __name__ == "__main__":
    main()
