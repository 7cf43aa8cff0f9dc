"""`make run`'s output: stdout is for the user (addresses, how to use the CLI, the demo table), the
logs go to stderr, and each function's log lines carry its own name and service."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.e2e.test_local_mode import run_cli

pytestmark = pytest.mark.e2e
LOG_LINE = re.compile(r"^(\{|\d\d:\d\d:\d\d )")  # a JSON log line, or a timestamped one


@pytest.fixture(scope="module")
def demo() -> Any:
    result = run_cli("--port", "0", "--exit-after-demo", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_stdout_shows_the_addresses_the_cli_and_the_demo_table_and_no_log_line(demo: Any) -> None:
    lines = demo.stdout.splitlines()
    table = lines.index("Demo: one test invocation per subscription, as SailPoint sends them")

    assert lines[0].startswith("Receiver:")
    assert [line for line in lines if LOG_LINE.match(line)] == []
    assert any(line.startswith("CLI:") and "idn-triggers.env" in line for line in lines[:table])
    assert any(
        line.startswith("DLQ:") and "--endpoint-url http://127.0.0.1:" in line for line in lines[:table]
    )
    assert lines[table + 1].split()[:5] == ["trigger", "subscription", "what", "happened", "outcome"]


def test_the_logs_are_on_stderr_each_with_its_own_function_and_service(demo: Any) -> None:
    records = [json.loads(line) for line in demo.stderr.splitlines() if line.startswith("{")]
    by_message: dict[str, set[tuple[str | None, str | None]]] = {}
    for record in records:
        by_message.setdefault(record.get("message", ""), set()).add(
            (record.get("function_name"), record.get("service"))
        )

    assert by_message["trigger delivery answered"] == {("ReceiverFunction", "sailpoint-event-triggers")}
    assert by_message["invocation completed"] == {("WorkerFunction", "sailpoint-event-triggers")}
    assert not [r for r in records if r.get("service") in (None, "service_undefined")]
    assert "service_undefined" not in demo.stderr  # nor a second, plain copy of a line through root
