"""Recovery, shown in local mode: an event is lost, then recovered from the invocation history.

    python -m idn_local.recovery_demo        (or: make run ARGS=... is the full stack; this is one story)

1. the local receiver subscribes to idn:identity-attributes-changed (fire-and-forget);
2. SailPoint (the simulator) fires an event while its deliveries fail (the fault switch: 503);
3. the invocation history shows it failed: SailPoint will never resend it;
4. the reconciler function runs once, as its schedule would run it;
5. the worker handles the event, told it is a RECOVERED delivery; a second pass queues nothing.
"""

from __future__ import annotations

import copy
import json
import sys
import threading
import time
from typing import Any

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from idn_triggers.catalogue import trigger_document

TRIGGER = "idn:identity-attributes-changed"
TOKEN = "recovery-demo-token"  # noqa: S105 - a throw-away local credential


class WorkerWatch:
    """The queued messages the local worker processed, as (invocation id, delivery kind)."""

    def __init__(self, runner: LocalRunner) -> None:
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        worker = runner.functions["WorkerFunction"]
        invoke = worker.invoke

        def watched(event: dict[str, Any]) -> Any:
            result = invoke(event)
            failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
            with self._lock:
                for record in event.get("Records", []):
                    if record.get("messageId") not in failed:
                        body = json.loads(record["body"])
                        self.seen.append((body.get("invocation_id", "?"), body.get("delivery", "LIVE")))
            return result

        worker.invoke = watched  # type: ignore[method-assign]

    def wait_for(self, invocation_id: str, timeout: float = 20.0) -> str | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                for seen_id, delivery in self.seen:
                    if seen_id == invocation_id:
                        return delivery
            time.sleep(0.1)
        return None


def wait_for_the_first_scheduled_pass(runner: LocalRunner, timeout: float = 30.0) -> None:
    """Local mode runs the reconciler at start, as its schedule would: let that pass end first, so
    the pass below is the one that finds the lost event (a pass ends by recording its success)."""
    import boto3

    assert runner.stack is not None
    dynamodb = boto3.client("dynamodb", endpoint_url=runner.aws_endpoint, region_name="us-east-1")
    table = runner.stack.physical_ids["RecoveryStateTable"]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if "Item" in dynamodb.get_item(TableName=table, Key={"id": {"S": "watermark"}}, ConsistentRead=True):
            return
        time.sleep(0.2)


def run(runner: LocalRunner) -> int:
    assert runner.simulator is not None and runner.tenant is not None
    wait_for_the_first_scheduled_pass(runner)
    watch = WorkerWatch(runner)
    runner.tenant.create_subscription(
        {
            "name": "recovery demo",
            "triggerId": TRIGGER,
            "type": "HTTP",
            "enabled": True,
            "httpConfig": {
                "url": runner.webhook_url(TRIGGER),
                "httpDispatchMode": "SYNC",
                "httpAuthenticationType": "BEARER_TOKEN",
                "bearerTokenAuthConfig": {"bearerToken": TOKEN},
            },
        }
    )
    print(f"1. subscribed {runner.webhook_url(TRIGGER)}")
    runner.simulator.fail_deliveries(1.0, status=503)
    payload = copy.deepcopy(trigger_document(TRIGGER)["exampleInput"])
    [record] = runner.simulator.fire_event(TRIGGER, payload)
    record = runner.simulator.wait_for_invocation(lambda r: r.id == record.id and r.settled, timeout=10)
    runner.simulator.fail_deliveries(0)
    print(f"2. SailPoint fired invocation {record.id}; its delivery failed ({record.failure})")
    history = runner.tenant.invocation_statuses(TRIGGER)
    entry = next(item for item in history if item["id"] == record.id)
    error = (entry.get("completeInvocationInput") or {}).get("localizedError") or {}
    print(f"3. the invocation history says: {error.get('message', '?')} - SailPoint never resends it")
    report = runner.functions["ReconcilerFunction"].invoke({"source": "aws.events", "detail": {}})
    print(f"4. reconciler pass: {report['queued']} queued, {report['unrecoverable']} unrecoverable")
    delivery = watch.wait_for(record.id)
    if delivery is None:
        print("5. the worker did not handle the recovered event in time", file=sys.stderr)
        return 1
    print(f"5. the worker handled invocation {record.id} as a {delivery} delivery")
    again = runner.functions["ReconcilerFunction"].invoke({"source": "aws.events", "detail": {}})
    print(f"6. a second pass queues {again['queued']} (already queued: {again['alreadyDone']})")
    return 0 if again["queued"] == 0 else 1


def main(argv: list[str] | None = None) -> int:
    import argparse
    import logging

    argparse.ArgumentParser(
        prog="python -m idn_local.recovery_demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args(argv)  # no options: --help explains, anything else is a usage error (exit 2)

    from idn_local import logs

    logs.configure(verbose=False)  # log lines to stderr, whole; stdout keeps the story
    sys.stdout = logs.FunctionOutput(sys.stdout)  # what functions print (metrics) goes there too
    logging.getLogger("idn_local").setLevel(logging.WARNING)
    options = LocalOptions(
        port=0,
        auth=InboundAuth.parse(f"bearer:{TOKEN}"),
        parameter_overrides={"LogLevel": "WARNING"},  # the story, not every function's log line
        schedule_periods={"ReconcilerFunction": 3600},
    )
    with LocalRunner(options) as runner:
        return run(runner)


if __name__ == "__main__":
    sys.exit(main())
