"""bench/soak.py in miniature: local mode under random completion faults, a worker killed mid-batch
and duplicate deliveries loses nothing and completes nothing twice (`make soak` is the full run)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.e2e


def test_a_small_soak_loses_nothing_and_completes_nothing_twice() -> None:
    args = [
        "--invocations",
        "24",
        "--crashes",
        "1",
        "--duplicates",
        "4",
        "--visibility-timeout",
        "3",
        "--quiet-seconds",
        "1",
        "--rate",
        "50",
        "--time-limit",
        "90",
        "--seed",
        "3",
        "--json",
    ]
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=150,
        check=False,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert (report["lost"], report["duplicated"]) == ([], []), report
    assert result.returncode == 0 and report["ok"]
    assert report["invocations"] == 24 and report["crashes"] == 1
    assert report["outcomes"]["completed once"] + report["outcomes"].get("dead-lettered", 0) == 24
    assert report["completions_failed_by_faults"] > 0  # the faults really happened
