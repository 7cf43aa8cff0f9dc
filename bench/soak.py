"""Fault-injection soak of local mode: nothing acknowledged is lost or completed twice.

The whole stack runs locally (receiver behind the local API Gateway, SQS and DynamoDB in moto, the
worker behind the SQS poller, the SailPoint tenant simulator). The simulator fires ASYNC
request-response and fire-and-forget invocations at the receiver while:

- a share of completions fail at random (500, 503, 429 with Retry-After, connection resets, and
  slow answers that still succeed within the worker's timeout);
- the worker is "killed mid-batch" a few times: it handles the first half of a batch, then raises
  before reporting, so SQS redelivers the whole batch after the visibility timeout;
- some deliveries are sent twice (the same input and `_metadata` re-POSTed to the receiver).

At the end every invocation is accounted for: completed exactly once, dead-lettered with a reason,
refused at delivery (SailPoint saw the failure: nothing was acknowledged), or still in flight (its
message is still in the work queue). Anything else is lost; a second completion (or a second run of
a fire-and-forget handler) is a duplicate. Both must be 0: the exit status says so.

The work queue's VisibilityTimeout is 180 s in template.yaml (6x the worker timeout, as AWS
advises), and there is no template parameter for it; a crashed batch would come back only after
that. The soak shortens it on the local queue (SetQueueAttributes, `--visibility-timeout`, default
10 s) after the stack starts, so redelivery happens within the run; the deployed template is untouched.

    python bench/soak.py [--invocations 500] [--fault-rate 0.3] [--crashes 3] [--duplicates 40]
                         [--time-limit 300] [--seed 1] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import itertools
import json
import logging
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner  # noqa: E402
from idn_simulator import InvocationState  # noqa: E402
from idn_simulator.faults import Fault  # noqa: E402
from idn_triggers.catalogue import trigger_document  # noqa: E402
from idn_triggers.queue import payload_fingerprint  # noqa: E402

PRE = "idn:access-request-pre-approval"
DYN = "idn:access-request-dynamic-approver"
FIRE_AND_FORGET = ("idn:identity-created", "idn:identity-attributes-changed")
BEARER = "soak-inbound-bearer"


def example(trigger_id: str) -> dict[str, Any]:
    return dict(trigger_document(trigger_id)["exampleInput"])


class WorkerKilled(RuntimeError):
    """The emulated crash: the worker stops mid-batch without reporting anything."""


@dataclass
class Report:
    invocations: int = 0
    request_response: int = 0
    fire_and_forget: int = 0
    duplicates_sent: int = 0
    crashes: int = 0
    completions_attempted: int = 0
    completions_failed_by_faults: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    work_queue_depth: int = 0
    seconds: float = 0.0
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated

    def table(self) -> str:
        rows = [
            ("invocations fired", self.invocations),
            ("  ASYNC request-response", self.request_response),
            ("  fire-and-forget", self.fire_and_forget),
            ("duplicate deliveries re-POSTed", self.duplicates_sent),
            ("worker killed mid-batch", self.crashes),
            ("completion requests (all)", self.completions_attempted),
            ("  failed by injected faults", self.completions_failed_by_faults),
            ("completed exactly once", self.outcomes["completed once"]),
            ("dead-lettered with a reason", self.outcomes["dead-lettered"]),
            ("refused at delivery (not acknowledged)", self.outcomes["refused at delivery"]),
            ("still in flight", self.outcomes["in flight"]),
            ("LOST", len(self.lost)),
            ("DUPLICATED (second completion attempted, or run twice)", len(self.duplicated)),
            ("work queue depth at the end", self.work_queue_depth),
            ("seconds", f"{self.seconds:.1f}" + (" (time limit reached)" if self.timed_out else "")),
        ]
        width = max(len(label) for label, _ in rows)
        lines = [f"  {label:<{width}}  {value}" for label, value in rows]
        for reason, count in self.dead_letter_reasons.most_common():
            lines.append(f"  DLQ reason: {reason} ({count})")
        for name, ids in (("lost", self.lost), ("duplicated", self.duplicated)):
            if ids:
                lines.append(f"  {name}: {', '.join(ids[:10])}")
        return "\n".join(lines)


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.runner: LocalRunner | None = None
        self.handler_runs: Counter[str] = Counter()
        self.runs_lock = threading.Lock()
        self.report = Report()
        self.fnf_ids: dict[str, str] = {}  # simulator invocation id -> payload fingerprint
        self.rr_ids: list[str] = []

    # -- set-up -----------------------------------------------------------------------------
    def start(self) -> LocalRunner:
        options = LocalOptions(
            port=0,
            auth=InboundAuth.parse(f"bearer:{BEARER}"),
            parameter_overrides={"LogLevel": "ERROR"},
        )
        runner = self.runner = LocalRunner(options).start()
        assert runner.simulator is not None and runner.stack is not None
        sqs = boto3.client("sqs", endpoint_url=runner.aws_endpoint)
        sqs.set_queue_attributes(
            QueueUrl=runner.stack.physical_ids["WorkQueue"],
            Attributes={"VisibilityTimeout": str(self.args.visibility_timeout)},
        )
        if not self.args.rate_limit:
            runner.simulator.set_rate_limit(None)
        for trigger_id in (PRE, DYN, *FIRE_AND_FORGET):
            self.subscribe(trigger_id, "ASYNC")
        self.instrument_worker()
        return runner

    def subscribe(self, trigger_id: str, mode: str) -> None:
        assert self.runner is not None and self.runner.tenant is not None
        self.runner.tenant.create_subscription(
            {
                "name": f"soak {trigger_id}",
                "triggerId": trigger_id,
                "type": "HTTP",
                "enabled": True,
                "responseDeadline": "PT1H",
                "httpConfig": {
                    "url": self.runner.webhook_url(trigger_id),
                    "httpDispatchMode": mode,
                    "httpAuthenticationType": "BEARER_TOKEN",
                    "bearerTokenAuthConfig": {"bearerToken": BEARER},
                },
            }
        )

    def instrument_worker(self) -> None:
        """Count handler runs per invocation, and kill the worker mid-batch on chosen batches."""
        assert self.runner is not None
        function = self.runner.functions["WorkerFunction"]
        module = sys.modules[f"local_fn_{function.name}"]
        module.worker.registry = _CountingRegistry(module.worker.registry, self._count_run)
        original = function.invoke
        batches = itertools.count(1)
        # the batches to kill: spread over the first ones; a batch too small to cut in half passes
        # the crash on to the next one
        targets = sorted(self.rng.sample(range(2, 2 + 6 * max(1, self.args.crashes)), self.args.crashes))

        def invoke(event: dict[str, Any]) -> Any:
            number = next(batches)
            records = event.get("Records", [])
            if targets and number >= targets[0] and len(records) >= 2:
                targets.pop(0)
                self.report.crashes += 1
                original({**event, "Records": records[: len(records) // 2]})  # handled, never reported
                raise WorkerKilled(f"worker killed after {len(records) // 2} of {len(records)} records")
            return original(event)

        function.invoke = invoke  # type: ignore[method-assign]  # the fault injected: replaces this one instance's method

    def _count_run(self, invocation_id: str | None) -> None:
        with self.runs_lock:
            self.handler_runs[invocation_id or "?"] += 1

    # -- the run ----------------------------------------------------------------------------
    def fire_all(self) -> None:
        assert self.runner is not None and self.runner.simulator is not None
        simulator = self.runner.simulator
        slow = self.args.slow_seconds
        simulator.faults.set_random(
            "completions",
            self.args.fault_rate,
            [
                Fault(status=500),
                Fault(status=503),
                Fault(status=429, retry_after=1),
                Fault(reset=True),
                Fault(delay_seconds=slow, status=502),  # slow, then failing
                # slower than the worker's callback timeout, yet accepted by the tenant afterwards
                *(
                    [Fault(delay_seconds=self.args.late_success_seconds)]
                    if self.args.late_success_seconds
                    else []
                ),
            ],
            seed=self.args.seed,
        )
        count = self.args.invocations
        fnf_count = int(count * self.args.fire_and_forget_share)
        kinds = ["fnf"] * fnf_count + ["rr"] * (count - fnf_count)
        self.rng.shuffle(kinds)
        duplicate_at = set(self.rng.sample(range(count), min(count, self.args.duplicates)))
        interval = 1.0 / self.args.rate
        for index, kind in enumerate(kinds):
            trigger_id = self.rng.choice(FIRE_AND_FORGET) if kind == "fnf" else self.rng.choice((PRE, DYN))
            payload = self.unique_payload(trigger_id, index)
            [record] = simulator.fire_event(trigger_id, payload)
            self.report.invocations += 1
            if kind == "fnf":
                self.report.fire_and_forget += 1
                self.fnf_ids[record.id] = payload_fingerprint(trigger_id, payload)
            else:
                self.report.request_response += 1
                self.rr_ids.append(record.id)
            if index in duplicate_at:
                threading.Thread(target=self.duplicate, args=(record.id,), daemon=True).start()
            time.sleep(interval)

    def unique_payload(self, trigger_id: str, index: int) -> dict[str, Any]:
        payload = copy.deepcopy(example(trigger_id))
        marker = f"soak-{index}-{uuid.uuid4().hex[:8]}"
        if "accessRequestId" in payload:
            payload["accessRequestId"] = marker
        if isinstance(payload.get("identity"), dict):
            payload["identity"]["id"] = marker
        return payload

    def duplicate(self, invocation_id: str) -> None:
        """Re-POST the delivery as SailPoint sent it (same input, same `_metadata`)."""
        assert self.runner is not None and self.runner.simulator is not None
        try:
            record = self.runner.simulator.wait_for_invocation(invocation_id, timeout=20)
        except TimeoutError:
            return
        body = dict(record.input)
        if record.expects_callback:
            body["_metadata"] = {
                "callbackURL": record.callback_url,
                "secret": record.secret,
                "responseMode": "async",
                "triggerId": record.trigger_id,
                "triggerType": "requestResponse",
            }
        with contextlib.suppress(requests.RequestException):
            requests.post(
                self.runner.webhook_url(record.trigger_id),
                json=body,
                headers={"Authorization": f"Bearer {BEARER}"},
                timeout=10,
            )
            self.report.duplicates_sent += 1

    # -- accounting -------------------------------------------------------------------------
    def queue_depth(self) -> int:
        assert self.runner is not None and self.runner.stack is not None
        sqs = boto3.client("sqs", endpoint_url=self.runner.aws_endpoint)
        attributes = sqs.get_queue_attributes(
            QueueUrl=self.runner.stack.physical_ids["WorkQueue"],
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def dead_letters(self) -> dict[str, str]:
        """invocationId -> reason, for every message in the DLQ (read with ops' lister)."""
        assert self.runner is not None and self.runner.stack is not None
        from idn_tools.ops import DeadLetterQueue

        dlq = DeadLetterQueue(
            boto3.client("sqs", endpoint_url=self.runner.aws_endpoint),
            self.runner.stack.physical_ids["DeadLetterQueue"],
        )
        return {
            letter.invocation_id or f"(no id) {letter.message_id}": letter.reason or "(no reason attribute)"
            for letter in dlq.list(hold_seconds=5)
        }

    def settled(self) -> bool:
        assert self.runner is not None and self.runner.simulator is not None
        simulator = self.runner.simulator
        if any(not simulator.invocation(i).settled for i in self.rr_ids):
            return False
        with self.runs_lock:
            if any(self.handler_runs[f] == 0 for f in self.fnf_ids.values()):
                return False
        return self.queue_depth() == 0

    def account(self) -> None:
        assert self.runner is not None and self.runner.simulator is not None
        report = self.report
        report.work_queue_depth = self.queue_depth()
        letters = self.dead_letters()
        for reason in letters.values():
            report.dead_letter_reasons[reason.split(":")[0]] += 1
        for invocation_id in self.rr_ids:
            self.account_request_response(invocation_id, letters)
        for invocation_id, fingerprint in self.fnf_ids.items():
            self.account_fire_and_forget(invocation_id, fingerprint, letters)
        # Faulted requests never reach the completion rules, so they are not in the records' attempts.
        recorded = report.completions_attempted
        report.completions_attempted = self.runner.simulator.stats.completions
        report.completions_failed_by_faults = report.completions_attempted - recorded

    def account_request_response(self, invocation_id: str, letters: dict[str, str]) -> None:
        assert self.runner is not None and self.runner.simulator is not None
        report = self.report
        record = self.runner.simulator.invocation(invocation_id)
        callbacks = [a for a in record.attempts if a.via == "callback"]
        report.completions_attempted += len(callbacks)
        accepted = [a for a in callbacks if a.accepted]
        twice = [a for a in callbacks if any("already completed" in p for p in a.problems)]
        if len(accepted) > 1 or twice:
            report.duplicated.append(invocation_id)
        if record.state is InvocationState.COMPLETED and len(accepted) == 1:
            report.outcomes["completed once"] += 1
        elif record.delivery is not None and record.delivery.status not in (200, 202):
            report.outcomes["refused at delivery"] += 1
        else:
            self.account_unfinished(invocation_id, invocation_id in letters)

    def account_fire_and_forget(self, invocation_id: str, fingerprint: str, letters: dict[str, str]) -> None:
        assert self.runner is not None and self.runner.simulator is not None
        record = self.runner.simulator.invocation(invocation_id)
        runs = self.handler_runs[fingerprint]
        if runs > 1:
            self.report.duplicated.append(invocation_id)
        if runs >= 1:
            self.report.outcomes["completed once"] += 1
        elif record.delivery is not None and record.delivery.status != 200:
            self.report.outcomes["refused at delivery"] += 1
        else:
            self.account_unfinished(invocation_id, fingerprint in letters)

    def account_unfinished(self, invocation_id: str, dead_lettered: bool) -> None:
        if dead_lettered:
            self.report.outcomes["dead-lettered"] += 1
        elif self.report.work_queue_depth:
            self.report.outcomes["in flight"] += 1
        else:
            self.report.lost.append(invocation_id)

    def run(self) -> Report:
        started = time.monotonic()
        deadline = started + self.args.time_limit
        try:
            self.start()
            self.fire_all()
            while not self.settled():
                if time.monotonic() >= deadline:
                    self.report.timed_out = True
                    break
                time.sleep(1)
            time.sleep(self.args.quiet_seconds)  # a wrong second completion would show up here
            self.account()
        finally:
            if self.runner is not None:
                self.runner.stop()
        self.report.seconds = time.monotonic() - started
        return self.report


class _CountingHandler:
    def __init__(self, inner: Any, count: Any) -> None:
        self._inner, self._count = inner, count

    def __call__(self, event: Any, context: Any) -> Any:
        self._count(context.invocation_id)
        return self._inner(event, context)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _CountingRegistry:
    def __init__(self, inner: Any, count: Any) -> None:
        self._inner, self._count = inner, count

    def get(self, trigger_id: str) -> Any:
        handler = self._inner.get(trigger_id)
        return None if handler is None else _CountingHandler(handler, self._count)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invocations", type=int, default=500)
    parser.add_argument("--fire-and-forget-share", type=float, default=0.4)
    parser.add_argument("--fault-rate", type=float, default=0.3, help="share of completions that fail")
    parser.add_argument("--slow-seconds", type=float, default=1.5, help="hold of the 'slow' fault")
    parser.add_argument(
        "--late-success-seconds",
        type=float,
        default=0.0,
        help="also inject completions that succeed after this delay (above the worker's 5 s timeout: "
        "the worker sees a timeout while the tenant completes the invocation)",
    )
    parser.add_argument("--crashes", type=int, default=3, help="worker batches killed mid-batch")
    parser.add_argument("--duplicates", type=int, default=40, help="deliveries re-POSTed")
    parser.add_argument("--rate", type=float, default=25.0, help="invocations fired per second")
    parser.add_argument("--visibility-timeout", type=int, default=10)
    parser.add_argument("--rate-limit", action="store_true", help="keep the simulator's 100/10 s limit")
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds, start to end")
    parser.add_argument("--quiet-seconds", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.disable(logging.CRITICAL)  # the poller logs each emulated crash; the table says it all
    with tempfile.TemporaryFile("w+") as sink, contextlib.redirect_stdout(sink):
        report = Soak(args).run()  # the functions' log and metric lines go to the sink
    if args.json:
        data = {name: getattr(report, name) for name in report.__dataclass_fields__}
        data = {k: dict(v) if isinstance(v, Counter) else v for k, v in data.items()}
        data["ok"] = report.ok
        print(json.dumps(data, default=str))
    else:
        print(
            f"Soak: {args.invocations} invocations, {args.fault_rate:.0%} of completions failing, "
            f"{args.crashes} worker crashes, {args.duplicates} duplicate deliveries"
        )
        print(report.table())
        print("OK: nothing lost, nothing completed twice" if report.ok else "FAILED: see LOST / DUPLICATED")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
