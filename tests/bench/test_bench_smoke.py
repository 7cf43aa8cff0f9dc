"""The bench scripts run (tiny iteration counts) and print figures, so they do not rot.

No assertion here is about speed: timings on a shared machine are measured in bench/, never tested.
Each run writes its figures to a temporary file (BENCH_RESULTS), never over bench/results.json.
The scripts that start a local stack are in test_bench_smoke_local.py (make test runs files in
parallel, one worker each).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT


def run_bench(script: str, args: list[str], results: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
        env={**os.environ, "BENCH_RESULTS": str(results)},
    )


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        ("cold_import.py", ["--runs", "1"], "functions/receiver"),
        ("warm_latency.py", ["--iterations", "20"], "DYNAMIC deferred (202)"),
        ("archive_cost.py", ["--iterations", "20", "--rounds", "2"], "S3 PutObject alone"),
        ("reconcile.py", ["--entries", "60"], "full pass (claim, queue, confirm)"),
        (
            "storm.py",
            ["--burst", "20", "--senders", "4", "--async", "5", "--depth-probe", "0,20"],
            "429s answered by the simulator",
        ),
        # run_all runs the scripts above: one cheap one proves it runs them and prints the goals
        ("run_all.py", ["--quick", "--only", "reconcile"], "=== Goals ==="),
    ],
)
def test_bench_script_prints_its_table(script: str, args: list[str], expected: str, tmp_path: Path) -> None:
    result = run_bench(script, args, tmp_path / "results.json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert expected in result.stdout


def test_layer_size_measures_a_built_layer_and_prints_its_table(tmp_path: Path) -> None:
    # Given a built layer (a stand-in: building the real one needs pip and the network)
    package = tmp_path / "layer" / "python" / "somepackage"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("VALUE = 1\n" * 100)
    # When the layer bench measures it
    result = run_bench(
        "layer_size.py", ["--artifacts", str(tmp_path / "layer"), "--no-baseline"], tmp_path / "results.json"
    )
    # Then it prints its table
    assert result.returncode == 0, result.stderr[-2000:]
    assert "LibraryLayer as built" in result.stdout
