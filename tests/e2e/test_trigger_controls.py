"""Per-trigger controls end to end in local mode, driven through `idn-triggers-ops triggers`:
pause holds one trigger's events while another keeps flowing; resume lets each held event run
exactly once, at or under the trigger's rate; the circuit breaker pauses a failing trigger.
The handlers are this test's own (tests/e2e/policy_handlers), not the shipped templates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from idn_triggers.handlers import HandlerRegistry
from tests.e2e.policy_handlers import identity_attributes_changed as changed
from tests.e2e.policy_handlers import identity_created as created
from tests.e2e.policy_handlers import source_created as source
from tests.support import ROOT, trigger_document

CHANGED, CREATED, SOURCE = "idn:identity-attributes-changed", "idn:identity-created", "idn:source-created"
TOKEN = "e2e-controls-token"
RATE = 50  # per second, for CHANGED: 200 events drain in 4 s or more
EVENTS = 200
BREAKER_AFTER = 5
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRunner]:
    options = LocalOptions(
        port=0,
        auth=InboundAuth.parse(f"bearer:{TOKEN}"),
        parameter_overrides={
            "TriggerRateLimits": f"{CHANGED}={RATE}/s",
            "CircuitBreakerFailures": str(BREAKER_AFTER),
            "MaxReceiveCount": "2",
        },
    )
    runner = LocalRunner(options).start()
    registry = HandlerRegistry("tests.e2e.policy_handlers")
    sys.modules["local_fn_ReceiverFunction"].receiver.registry = registry
    sys.modules["local_fn_WorkerFunction"].worker.registry = registry
    assert runner.tenant is not None
    for trigger_id in (CHANGED, CREATED, SOURCE):
        runner.tenant.create_subscription(
            {
                "name": f"controls {trigger_id}",
                "triggerId": trigger_id,
                "type": "HTTP",
                "enabled": True,
                "httpConfig": {
                    "url": runner.webhook_url(trigger_id),
                    "httpDispatchMode": "SYNC",
                    "httpAuthenticationType": "BEARER_TOKEN",
                    "bearerTokenAuthConfig": {"bearerToken": TOKEN},
                },
            }
        )
    yield runner
    runner.stop()


def ops(local: LocalRunner, *args: str) -> list[dict[str, Any]]:
    """`idn-triggers-ops ... --json` as a user runs it; its JSON lines. This stack's table and queue by
    name: moto keeps one state per process, which another test file's stack may share."""
    assert local.stack is not None
    ids = local.stack.physical_ids
    where = ["--table-name", ids["TriggerControlTable"]]
    if args[:2] == ("triggers", "resume"):
        where += ["--to", ids["WorkQueue"]]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "idn_tools.ops",
            *args,
            *where,
            "--endpoint-url",
            local.aws_endpoint,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=dict(os.environ),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def identity_event(trigger_id: str, number: int) -> dict[str, Any]:
    payload = json.loads(json.dumps(trigger_document(trigger_id)["exampleInput"]))
    payload["identity"]["id"] = f"{trigger_id.split(':')[1]}-{number:04d}"
    return payload


def fire_all(local: LocalRunner, events: list[tuple[str, dict[str, Any]]]) -> None:
    records = [
        record for trigger_id, payload in events for record in local.simulator.fire_event(trigger_id, payload)
    ]
    for record in records:
        settled = local.simulator.wait_for_invocation(
            lambda r, i=record.id: r.id == i and r.settled, timeout=120
        )
        assert settled.delivery is not None and settled.delivery.status == 200


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def status(local: LocalRunner, trigger_id: str) -> dict[str, Any]:
    [row] = ops(local, "triggers", "status", trigger_id)
    return row


def test_a_paused_trigger_is_held_while_another_flows_then_each_runs_once_at_its_rate(
    local: LocalRunner,
) -> None:
    ops(local, "triggers", "pause", CHANGED, "--reason", "directory maintenance")
    events = [(t, identity_event(t, n)) for n in range(EVENTS) for t in (CHANGED, CREATED)]

    fire_all(local, events)
    wait_until(lambda: len(created.HANDLED) >= EVENTS, 120, "the running trigger's events")
    wait_until(lambda: status(local, CHANGED)["held"] >= EVENTS, 60, "the paused trigger's events held")

    assert changed.HANDLED == []  # nothing of the paused trigger ran
    assert status(local, CHANGED)["state"] == "paused"
    assert sorted(Counter(i for i, _ in created.HANDLED).values()) == [1] * EVENTS

    [resumed] = ops(local, "triggers", "resume", CHANGED, "--settle-seconds", "1")
    wait_until(lambda: len(changed.HANDLED) >= EVENTS, 120, "the resumed trigger's events")
    time.sleep(2)  # a wrongly doubled event would show up here

    assert resumed["requeued"] == EVENTS
    ids = Counter(i for i, _ in changed.HANDLED)
    assert set(ids) == {f"identity-attributes-changed-{n:04d}" for n in range(EVENTS)}
    assert set(ids.values()) == {1}  # exactly once
    per_second = Counter(int(at) for _, at in changed.HANDLED)
    assert max(per_second.values()) <= RATE  # at or under its limit, in every second
    assert status(local, CHANGED) | {"since": "-"} == {
        "trigger": CHANGED,
        "state": "running",
        "held": 0,
        "failures": 0,
        "since": "-",
        "reason": "-",
    }


def test_the_circuit_breaker_pauses_a_failing_trigger_until_resumed(local: LocalRunner) -> None:
    source.BEHAVIOUR["mode"] = "raise"
    payload = trigger_document(SOURCE)["exampleInput"]

    fire_all(local, [(SOURCE, {**payload, "id": f"source-{n}"}) for n in range(3)])
    wait_until(lambda: status(local, SOURCE)["state"] == "paused", 60, "the breaker to open")
    row = status(local, SOURCE)
    assert row["reason"] == "circuit breaker"
    assert row["failures"] >= BREAKER_AFTER  # attempts already past the gate may add theirs

    fire_all(local, [(SOURCE, {**payload, "id": f"later-{n}"}) for n in range(2)])
    wait_until(lambda: status(local, SOURCE)["held"] >= 2, 60, "events held by the open breaker")
    assert source.HANDLED == []

    source.BEHAVIOUR["mode"] = "answer"  # the downstream is back
    ops(local, "triggers", "resume", SOURCE, "--settle-seconds", "1")
    wait_until(lambda: {"later-0", "later-1"} <= set(source.HANDLED), 60, "the held events after resume")

    assert status(local, SOURCE)["state"] == "running"
