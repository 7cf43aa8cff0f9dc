"""The local demo: subscribe the local receiver, fire one test invocation per mode, report.

It goes through SailPoint's public API only (subscriptions, test invocation, invocation status), so
the same demo runs against the simulator or a real tenant.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from idn_local.runner import LocalModeError, LocalRunner
from idn_triggers.auth import AuthType, InboundSecret
from idn_triggers.catalogue import trigger_document
from idn_triggers.event_buses import PartnerSourceNotFound
from idn_triggers.handlers import package_registry
from idn_triggers.sailpoint_api import SailPointApiError
from idn_triggers.subscriptions import (
    DispatchMode,
    SubscriptionConflict,
    SubscriptionManager,
    SubscriptionSpec,
)

PRE = "idn:access-request-pre-approval"
DYN = "idn:access-request-dynamic-approver"
# The demo marks the pre-approval example's item for review, so the DYNAMIC branch can defer it.
DEMO_REVIEW_ITEMS = "Engineering Access"
WAIT_SECONDS = 15.0


@dataclass(frozen=True)
class DemoStep:
    trigger_id: str
    mode: DispatchMode  # the subscription's httpDispatchMode
    label: str
    rename_item: str | None = None  # send the example with its first item renamed


DEMO_STEPS = [
    DemoStep(PRE, "SYNC", "SYNC"),
    DemoStep(PRE, "ASYNC", "ASYNC"),
    DemoStep(PRE, "DYNAMIC", "DYNAMIC", rename_item="Read-only Access"),
    DemoStep(PRE, "DYNAMIC", "DYNAMIC"),
    DemoStep(DYN, "ASYNC", "ASYNC"),
    DemoStep("idn:identity-created", "SYNC", "fire-and-forget"),
    DemoStep("idn:identity-attributes-changed", "SYNC", "fire-and-forget"),
]


@dataclass(frozen=True)
class DemoResult:
    trigger_id: str
    mode: str
    outcome: str
    answer: str
    seconds: float | None
    happened: str = "-"  # what the receiver did with it, when the tenant is the simulator


# How the simulator's record of an invocation was completed -> what happened, in words.
HAPPENED = {
    "sync-response": "answered now (200)",
    "dynamic-response": "answered now (200)",
    "delivery": "acknowledged (200), queued for the worker",  # fire-and-forget: nothing to complete
    "callback": "acknowledged (200), completed by the worker",
}


def what_happened(runner: LocalRunner, invocation_id: str) -> str:
    """Read from the simulator's record (a real tenant's status API does not say): how the receiver
    answered, and who completed the invocation."""
    if runner.simulator is None:
        return "-"
    try:
        record = runner.simulator.invocation(invocation_id)
    except KeyError:
        return "-"
    status = record.delivery.status if record.delivery is not None else None
    if status == 202:
        return "deferred (202), completed by the worker"
    return HAPPENED.get(record.completed_via or "", f"answered {status}" if status else "not delivered")


def subscriptions_manager(runner: LocalRunner) -> SubscriptionManager:
    """The custom resource's code path: this stack's subscriptions, managed by their webhook URL."""
    assert runner.tenant is not None
    auth = runner.options.auth
    credential = None if auth.type == "NO_AUTH" else InboundSecret.model_validate(auth.secret_value())
    return SubscriptionManager(
        runner.tenant, runner.webhook_url(""), AuthType(auth.type), credential, name_prefix="local demo"
    )


def wait_for_status(runner: LocalRunner, trigger_id: str, known: set[str]) -> dict[str, Any] | None:
    assert runner.tenant is not None
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        for status in runner.tenant.invocation_statuses(trigger_id):
            if status["id"] not in known and status.get("completed"):
                return status
        time.sleep(0.05)
    return None


def demo_input(step: DemoStep) -> dict[str, Any] | None:
    if step.rename_item is None:
        return None
    payload = copy.deepcopy(trigger_document(step.trigger_id)["exampleInput"])
    payload["requestedItems"][0]["name"] = step.rename_item
    return dict(payload)


def run_demo(runner: LocalRunner) -> list[DemoResult]:
    assert runner.tenant is not None and runner.stack is not None
    manager = subscriptions_manager(runner)
    desired: dict[str, SubscriptionSpec] = {}
    results = []
    registry = package_registry(os.environ.get("HANDLERS_PACKAGE") or "trigger_handlers")
    http_on = "ReceiverFunction" in runner.stack.resources  # Transport=EVENTBRIDGE has no receiver
    for step in DEMO_STEPS if http_on else []:
        if not registry.has_handler(step.trigger_id):
            continue
        desired[step.trigger_id] = SubscriptionSpec(trigger_id=step.trigger_id, mode=step.mode)
        try:
            subscription_id = manager.apply(list(desired.values()))[step.trigger_id]
            known = {s["id"] for s in runner.tenant.invocation_statuses(step.trigger_id)}
            runner.tenant.test_invocation(step.trigger_id, demo_input(step), [subscription_id])
        except (SailPointApiError, SubscriptionConflict) as error:
            raise LocalModeError(f"demo: {error}") from None
        status = wait_for_status(runner, step.trigger_id, known)
        result = describe(step.trigger_id, step.label, status)
        if status is not None:
            result = dataclasses.replace(result, happened=what_happened(runner, str(status["id"])))
        results.append(result)
    # a real tenant cannot reach moto's account: the EventBridge row needs the simulator
    if runner.event_bridge_on and runner.simulator is not None and registry.has_handler(PRE):
        desired.pop(PRE, None)  # a request-response trigger takes one subscription: EventBridge's now
        results.append(eventbridge_row(runner, manager, list(desired.values())))
    return results


def eventbridge_row(
    runner: LocalRunner, http: SubscriptionManager, keep: list[SubscriptionSpec]
) -> DemoResult:
    """The pre-approval over EventBridge: an EVENTBRIDGE subscription made as the custom resource makes
    it (the simulator creates the partner source, the bus is associated and routed to the work queue),
    then a test invocation that the worker completes through the callback."""
    assert runner.tenant is not None
    try:
        http.apply(keep)
        manager = SubscriptionManager(
            runner.tenant,
            "",
            AuthType.NO_AUTH,
            None,
            name_prefix="local demo",
            event_bridge=runner.event_bridge_target(),
        )
        subscription_id = manager.apply([SubscriptionSpec(trigger_id=PRE)])[PRE]
        known = {s["id"] for s in runner.tenant.invocation_statuses(PRE)}
        runner.tenant.test_invocation(PRE, None, [subscription_id])
    except (SailPointApiError, SubscriptionConflict, PartnerSourceNotFound) as error:
        raise LocalModeError(f"demo: {error}") from None
    result = describe(PRE, "EventBridge (callback)", wait_for_status(runner, PRE, known))
    return dataclasses.replace(result, happened="put on the event bus, completed by the worker")


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
    rows = [("trigger", "subscription", "what happened", "outcome", "time", "answer")]
    rows += [
        (
            r.trigger_id,
            r.mode,
            r.happened,
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
