"""The local demo: subscribe the local receiver, fire one test invocation per mode, report.

It goes through SailPoint's public API only (subscriptions, test invocation, invocation status), so
the same demo runs against the simulator or a real tenant.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from idn_local.runner import LocalModeError, LocalRunner
from idn_local.tenant import TenantError
from trigger_handlers import HANDLER_MODULES

# (trigger, dispatch mode); fire-and-forget triggers are included when a handler exists for them.
DEMO_INVOCATIONS = [
    ("idn:access-request-pre-approval", "SYNC"),
    ("idn:access-request-dynamic-approver", "SYNC"),
    ("idn:identity-created", "SYNC"),
    ("idn:identity-attributes-changed", "SYNC"),
]
WAIT_SECONDS = 15.0


@dataclass(frozen=True)
class DemoResult:
    trigger_id: str
    mode: str
    outcome: str
    answer: str
    seconds: float | None


def subscribe(runner: LocalRunner, trigger_id: str, mode: str) -> str:
    assert runner.tenant is not None
    body = {
        "name": f"local receiver {trigger_id}",
        "description": "created by the local demo (make run)",
        "triggerId": trigger_id,
        "type": "HTTP",
        "responseDeadline": "PT1H",
        "enabled": True,
        "httpConfig": {
            "url": runner.webhook_url(trigger_id),
            "httpDispatchMode": mode,
            **runner.options.auth.subscription_config(),
        },
    }
    return str(runner.tenant.create_subscription(body)["id"])


def wait_for_status(runner: LocalRunner, trigger_id: str, known: set[str]) -> dict[str, Any] | None:
    assert runner.tenant is not None
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        for status in runner.tenant.invocation_statuses(trigger_id):
            if status["id"] not in known and status.get("completed"):
                return status
        time.sleep(0.05)
    return None


def run_demo(runner: LocalRunner) -> list[DemoResult]:
    assert runner.tenant is not None
    results = []
    for trigger_id, mode in DEMO_INVOCATIONS:
        if trigger_id not in HANDLER_MODULES:
            continue
        try:
            subscription_id = subscribe(runner, trigger_id, mode)
            known = {s["id"] for s in runner.tenant.invocation_statuses(trigger_id)}
            runner.tenant.test_invocation(trigger_id, [subscription_id])
        except TenantError as error:
            raise LocalModeError(f"demo: {error}") from None
        results.append(describe(trigger_id, mode, wait_for_status(runner, trigger_id, known)))
    return results


def describe(trigger_id: str, mode: str, status: dict[str, Any] | None) -> DemoResult:
    if status is None:
        return DemoResult(trigger_id, mode, "NO ANSWER", f"nothing within {WAIT_SECONDS:.0f} s", None)
    completion = status.get("completeInvocationInput") or {}
    error = completion.get("localizedError")
    seconds = (_parse(status["completed"]) - _parse(status["created"])).total_seconds()
    if error:
        return DemoResult(trigger_id, mode, "FAILED", str(error.get("message")), seconds)
    answer = json.dumps(completion.get("output"), separators=(",", ":"))
    return DemoResult(
        trigger_id, mode, "COMPLETED", answer if len(answer) <= 70 else answer[:67] + "...", seconds
    )


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def print_report(results: list[DemoResult]) -> None:
    rows = [("trigger", "mode", "outcome", "time", "answer")]
    rows += [
        (
            r.trigger_id,
            r.mode,
            r.outcome,
            "-" if r.seconds is None else f"{r.seconds * 1000:.0f} ms",
            r.answer,
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print("\nDemo: one test invocation per subscription, as SailPoint sends them")
    for row in rows:
        print("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    print(flush=True)
