"""The bench scripts that start local mode or moto run (tiny counts) and print figures.

No assertion here is about speed (see test_bench_smoke.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.test_bench_smoke import run_bench


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        ("local_mode.py", ["--starts", "1", "--requests", "5"], "through local HTTP stack"),
        ("worker_batch.py", ["--batches", "1", "--callback-ms", "5"], "idempotency on (moto)"),
        (
            "e2e_local.py",
            [
                "--invocations",
                "3",
                "--per-level",
                "4",
                "--concurrency",
                "1,2",
                "--lambda-window",
                "0",
                "--warm",
                "2",
            ],
            "ASYNC invocations per level",
        ),
        ("eventbridge_latency.py", ["--invocations", "3", "--warm", "1"], "ratio EventBridge / HTTP ASYNC"),
        ("handler_reload.py", ["--edits", "3"], "the first delivery after a save runs the new code"),
    ],
)
def test_bench_script_prints_its_table(script: str, args: list[str], expected: str, tmp_path: Path) -> None:
    result = run_bench(script, args, tmp_path / "results.json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert expected in result.stdout
