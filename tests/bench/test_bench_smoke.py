"""The bench scripts run (tiny iteration counts) and print figures, so they do not rot.

No assertion here is about speed: timings on a shared machine are measured in bench/, never tested.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        ("cold_import.py", ["--runs", "2"], "functions/receiver"),
        ("warm_latency.py", ["--iterations", "20"], "DYNAMIC deferred (202)"),
        ("local_mode.py", ["--starts", "1", "--requests", "5"], "through local HTTP stack"),
        ("worker_batch.py", ["--batches", "1", "--callback-ms", "5"], "idempotency on (moto)"),
    ],
)
def test_bench_script_prints_its_table(script: str, args: list[str], expected: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert expected in result.stdout
