"""Prints the fuzzing totals at the end of the run (requests, statuses, 5xx)."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.fuzz.harness import STATS
    from tests.fuzz.strategies import PROFILE

    if not STATS.requests:
        return
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(STATS.statuses.items()))
    sources = ", ".join(f"{source}: {count}" for source, count in sorted(STATS.by_source.items()))
    terminalreporter.write_sep("-", f"receiver fuzzing ({PROFILE} profile)")
    terminalreporter.write_line(f"requests fuzzed: {STATS.requests} ({sources})")
    terminalreporter.write_line(f"answers: {statuses}")
    terminalreporter.write_line(
        f"5xx outside the documented handler-failure 500: {STATS.server_errors}; "
        f"documented 500s: {STATS.documented_500}"
    )
    if STATS.queue_refusals:
        terminalreporter.write_line(f"messages real SQS would refuse (503): {dict(STATS.queue_refusals)}")
