"""EventBridge path latency in local mode, next to the HTTP ASYNC path of the same run.

One local stack with Transport=BOTH (moto, the simulator, the receiver, the poller and the worker in
one process). Measured, one invocation at a time, from the same clock (UTC datetimes in-process):

- `eventbridge_put_to_handler`: `PutEvents` of a fire-and-forget event on a partner bus to its
  handler being called (bus -> rule -> work queue -> poller -> worker -> adapter -> handler);
- pre-approval over EventBridge (an EVENTBRIDGE subscription made as code; the simulator puts the
  event): the simulator's `created` to the handler call, and to the completion being accepted;
- the baseline, pre-approval over HTTP in ASYNC mode (the simulator POSTs to the receiver, which
  queues it): the same two figures.

The ratio EventBridge / HTTP ASYNC is what to read; absolute figures depend on the machine (and moto
delivers synchronously inside PutEvents, while AWS adds its own delivery latency, typically well
under a second, documented as "near real time").

    python bench/eventbridge_latency.py [--invocations N] [--warm N]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record, summary, table

PRE = "idn:access-request-pre-approval"
FIRE_AND_FORGET = "idn:identity-created"
TOKEN = "bench-eventbridge-token"  # noqa: S105 - local bench credential


class HandlerClock:
    """When each handler was called, by invocation id (wraps TriggerHandler.__call__)."""

    def __init__(self) -> None:
        self.called: dict[str, datetime] = {}
        self.changed = threading.Condition()

    def install(self) -> None:
        from idn_triggers.handlers import HandlerContext, TriggerHandler

        original = TriggerHandler.__call__
        clock = self

        def timed(self: TriggerHandler, event: Any, context: HandlerContext) -> Any:
            with clock.changed:
                clock.called.setdefault(str(context.invocation_id), datetime.now(UTC))
                clock.changed.notify_all()
            return original(self, event, context)

        TriggerHandler.__call__ = timed  # type: ignore[method-assign]

    def wait(self, invocation_id: str, timeout: float = 30) -> datetime:
        with self.changed:
            if not self.changed.wait_for(lambda: invocation_id in self.called, timeout):
                raise TimeoutError(f"handler not called for {invocation_id}")
            return self.called[invocation_id]


def ms(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def via_simulator(runner: Any, clock: HandlerClock) -> tuple[float, float]:
    """Fire one pre-approval; seconds from the simulator's `created` to the handler, to completion."""
    [fired] = runner.simulator.fire_event(PRE)
    done = runner.simulator.wait_for_invocation(lambda r: r.id == fired.id and r.settled, timeout=30)
    if done.state.value != "COMPLETED":
        raise RuntimeError(f"invocation {done.id} {done.state.value}: {done.failure}")
    return ms(clock.wait(done.id), done.created), ms(done.completed, done.created)


def put_event(runner: Any, events: Any, source: str, clock: HandlerClock) -> float:
    """PutEvents one fire-and-forget event; seconds to its handler call."""
    from idn_triggers.catalogue import trigger_document

    invocation_id = str(uuid.uuid4())
    detail = {
        **trigger_document(FIRE_AND_FORGET)["exampleInput"],
        "_metadata": {
            "triggerType": "fireAndForget",
            "invocationId": invocation_id,
            "triggerId": FIRE_AND_FORGET,
        },
    }
    started = datetime.now(UTC)
    events.put_events(
        Entries=[
            {
                "Source": source,
                "DetailType": FIRE_AND_FORGET,
                "Detail": json.dumps(detail),
                "EventBusName": source,
            }
        ]
    )
    return ms(clock.wait(invocation_id), started)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    logging.disable(logging.CRITICAL)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    real_stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115 - EMF lines off the figures
    import boto3

    from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
    from idn_triggers.auth import AuthType, InboundSecret
    from idn_triggers.eventbridge import partner_source_name
    from idn_triggers.subscriptions import SubscriptionManager, SubscriptionSpec

    clock = HandlerClock()
    clock.install()
    options = LocalOptions(
        port=0, auth=InboundAuth.parse(f"bearer:{TOKEN}"), parameter_overrides={"Transport": "BOTH"}
    )
    try:
        with LocalRunner(options) as runner:
            assert runner.simulator is not None and runner.tenant is not None  # no --tenant-url
            runner.simulator.set_rate_limit(None)  # the stack's own latency, not SailPoint's limit
            spec = [SubscriptionSpec(trigger_id=PRE, mode="ASYNC")]
            credential = InboundSecret.model_validate({"bearerToken": TOKEN})
            http = SubscriptionManager(
                runner.tenant, f"{runner.api_url}/triggers/", AuthType.BEARER_TOKEN, credential
            )
            http.apply(spec)
            for _ in range(args.warm):
                via_simulator(runner, clock)
            http_async = [via_simulator(runner, clock) for _ in range(args.invocations)]
            http.remove_all()

            target = runner.event_bridge_target()
            eventbridge = SubscriptionManager(
                runner.tenant, "", AuthType.NO_AUTH, None, name_prefix="bench", event_bridge=target
            )
            eventbridge.apply(spec)
            for _ in range(args.warm):
                via_simulator(runner, clock)
            eb_pre = [via_simulator(runner, clock) for _ in range(args.invocations)]
            eventbridge.remove_all()

            events = boto3.client("events", endpoint_url=runner.aws_endpoint, region_name="us-east-1")
            source = partner_source_name(str(uuid.uuid4()), FIRE_AND_FORGET)
            events.create_partner_event_source(Name=source, Account="123456789012")
            target.buses.associate(source, target.route)
            for _ in range(args.warm):
                put_event(runner, events, source, clock)
            put_to_handler = [put_event(runner, events, source, clock) for _ in range(args.invocations)]
            target.buses.dissociate(source, target.route.rule_name)
    finally:
        sys.stdout = real_stdout
    http_handler = summary([h for h, _ in http_async])
    eb_handler = summary([h for h, _ in eb_pre])
    http_done = summary([c for _, c in http_async])
    eb_done = summary([c for _, c in eb_pre])
    return {
        "invocations": args.invocations,
        "eventbridge_put_to_handler_ms": summary(put_to_handler),
        "http_async_created_to_handler_ms": http_handler,
        "eventbridge_created_to_handler_ms": eb_handler,
        "http_async_created_to_completion_ms": http_done,
        "eventbridge_created_to_completion_ms": eb_done,
        "ratio_to_handler_median": round(eb_handler["median"] / http_handler["median"], 2),
        "ratio_to_completion_median": round(eb_done["median"] / http_done["median"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invocations", type=int, default=50)
    parser.add_argument("--warm", type=int, default=5)
    args = parser.parse_args()
    figures = measure(args)
    record("eventbridge_latency", figures)

    def row(label: str, key: str) -> tuple[str, str, str, str]:
        s = figures[key]
        return (label, f"{s['median']:.1f}", f"{s['p99']:.1f}", f"{s['iqr']:.1f}")

    print(f"EventBridge vs HTTP ASYNC in local mode ({args.invocations} invocations each, ms)")
    print(
        table(
            [
                ("path", "median", "p99", "iqr"),
                row("EventBridge: PutEvents -> handler (fire-and-forget)", "eventbridge_put_to_handler_ms"),
                row("EventBridge: pre-approval created -> handler", "eventbridge_created_to_handler_ms"),
                row(
                    "HTTP ASYNC: pre-approval created -> handler (baseline)",
                    "http_async_created_to_handler_ms",
                ),
                row("EventBridge: pre-approval created -> completed", "eventbridge_created_to_completion_ms"),
                row(
                    "HTTP ASYNC: pre-approval created -> completed (baseline)",
                    "http_async_created_to_completion_ms",
                ),
            ]
        )
    )
    print(
        f"ratio EventBridge / HTTP ASYNC (median): to the handler {figures['ratio_to_handler_median']}, "
        f"to completion {figures['ratio_to_completion_median']}"
    )


if __name__ == "__main__":
    main()
