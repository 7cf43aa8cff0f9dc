"""Recovery end to end in local mode: events SailPoint could not deliver are read back from the
simulator's invocation history by the reconciler function and handled exactly once.

The ledger is every call of the identity-attributes-changed handler, recorded in-process (local
mode runs the worker in this process) with the event's identity id and the delivery kind, by the
product tests' own handler (tests/product_handlers).
"""

from __future__ import annotations

import copy
import io
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from idn_simulator import InvocationState
from idn_triggers.catalogue import trigger_document
from idn_triggers.envelope import DeliveryKind
from idn_triggers.handlers import HandlerContext
from tests.product_handlers.shared import LISTENERS

CHANGED = "idn:identity-attributes-changed"
PRE = "idn:access-request-pre-approval"
BEARER = "recovery-e2e-token"
pytestmark = pytest.mark.e2e


class Ledger:
    """Every handler call: (identity id, delivery kind)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, DeliveryKind]] = []
        self._lock = threading.Lock()

    def record(self, identity_id: str, delivery: DeliveryKind) -> None:
        with self._lock:
            self.calls.append((identity_id, delivery))

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(identity for identity, _ in self.calls)

    def recovered(self) -> set[str]:
        with self._lock:
            return {identity for identity, kind in self.calls if kind is DeliveryKind.RECOVERED}


@pytest.fixture(scope="module")
def ledger() -> Iterator[Ledger]:
    record = Ledger()

    def listen(trigger_id: str, event: Any, context: HandlerContext) -> None:
        if trigger_id == CHANGED:
            record.record(event.identity.id, context.delivery)

    LISTENERS.append(listen)
    yield record
    LISTENERS.remove(listen)


@pytest.fixture(scope="module")
def local(ledger: Ledger) -> Iterator[LocalRunner]:
    options = LocalOptions(
        port=0,
        auth=InboundAuth.parse(f"bearer:{BEARER}"),
        # the scheduled pass runs once at start; the tests run theirs by hand
        schedule_periods={"ReconcilerFunction": 3600},
    )
    with LocalRunner(options) as runner:
        assert runner.simulator is not None
        runner.simulator.set_rate_limit(None)
        subscribe(runner, CHANGED)
        yield runner


def subscribe(local: LocalRunner, trigger_id: str, token: str = BEARER) -> str:
    assert local.tenant is not None
    body = {
        "name": f"recovery {trigger_id}",
        "triggerId": trigger_id,
        "type": "HTTP",
        "enabled": True,
        "httpConfig": {
            "url": local.webhook_url(trigger_id),
            "httpDispatchMode": "SYNC",
            "httpAuthenticationType": "BEARER_TOKEN",
            "bearerTokenAuthConfig": {"bearerToken": token},
        },
    }
    return str(local.tenant.create_subscription(body)["id"])


def event(identity_id: str) -> dict[str, Any]:
    payload = copy.deepcopy(trigger_document(CHANGED)["exampleInput"])
    payload["identity"]["id"] = identity_id
    return dict(payload)


def fire(local: LocalRunner, identity_ids: list[str]) -> list[str]:
    """Fire the events and wait until SailPoint settled every delivery; the invocation ids."""
    assert local.simulator is not None
    ids = [
        record.id
        for identity in identity_ids
        for record in local.simulator.fire_event(CHANGED, event(identity))
    ]
    wanted = set(ids)
    wait_for(lambda: all(r.settled for r in local.simulator.invocations() if r.id in wanted), 30)
    return ids


def failed(local: LocalRunner, ids: list[str]) -> int:
    assert local.simulator is not None
    wanted = set(ids)
    return sum(
        1 for r in local.simulator.invocations() if r.id in wanted and r.state is InvocationState.FAILED
    )


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)


def queue_drained(local: LocalRunner) -> bool:
    assert local.stack is not None  # moto keeps one state per process: this stack's queue, by its id
    sqs = boto3.client("sqs", endpoint_url=local.aws_endpoint, region_name="us-east-1")
    url = local.stack.physical_ids["WorkQueue"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        attributes["ApproximateNumberOfMessages"]
        == attributes["ApproximateNumberOfMessagesNotVisible"]
        == "0"
    )


def reconcile(local: LocalRunner) -> dict[str, Any]:
    """One scheduled run of the reconciler function, as EventBridge would invoke it."""
    return dict(local.functions["ReconcilerFunction"].invoke({"source": "aws.events", "detail": {}}))


# A few seconds normally; the bound outlasts the work queue's 180 s visibility timeout, so a record a
# loaded machine's poller dropped mid-receive comes back and is handled before the test gives up.
SETTLE_SECONDS = 200


def handled_exactly_once(local: LocalRunner, ledger: Ledger, identities: list[str]) -> Counter[str]:
    wait_for(lambda: set(identities) <= set(ledger.counts()), SETTLE_SECONDS)
    wait_for(lambda: queue_drained(local), SETTLE_SECONDS)
    return ledger.counts()


@pytest.fixture
def fresh(local: LocalRunner, ledger: Ledger) -> Iterator[LocalRunner]:
    """A settled stack, an empty ledger, no delivery faults; the history of earlier tests stays
    (already recovered), as it would at a tenant."""
    assert local.simulator is not None
    reconcile(local)
    wait_for(lambda: queue_drained(local), SETTLE_SECONDS)
    ledger.clear()
    yield local
    local.simulator.fail_deliveries(0)


def test_a_share_of_failed_deliveries_is_recovered_once_by_one_pass(
    fresh: LocalRunner, ledger: Ledger
) -> None:
    # Given 200 events fired while 30% of SailPoint's deliveries fail before reaching the receiver
    assert fresh.simulator is not None
    fresh.simulator.fail_deliveries(0.3, status=503, seed=13)
    identities = [f"sim-fault-{n:03d}" for n in range(200)]
    ids = fire(fresh, identities)
    fresh.simulator.fail_deliveries(0)
    lost = failed(fresh, ids)
    assert 30 <= lost <= 90
    # When the reconciler runs once
    report = reconcile(fresh)
    # Then it queued the failed ones (the stack's own scheduled pass may have claimed a few of them
    # first on a loaded machine: claims are shared, so never both), and each of the 200 was handled
    # exactly once, the lost ones as recovered deliveries
    assert 0 < report["queued"] <= lost and report["unrecoverable"] == 0
    counts = handled_exactly_once(fresh, ledger, identities)
    assert {identity: counts[identity] for identity in identities} == dict.fromkeys(identities, 1)
    assert len(ledger.recovered()) == lost
    # And a second pass queues nothing
    again = reconcile(fresh)
    assert again["queued"] == 0 and again["alreadyDone"] >= lost


def test_events_the_receiver_could_not_queue_are_recovered_once(fresh: LocalRunner, ledger: Ledger) -> None:
    # Given the receiver's work queue unavailable for 30% of the deliveries (it answers 503)
    receiver = sys.modules["local_fn_ReceiverFunction"].receiver
    send = receiver.queue.send
    identities = [f"queue-down-{n:03d}" for n in range(200)]
    refused = {identity for n, identity in enumerate(identities) if n % 10 < 3}

    def flaky(message: Any) -> str:
        if message.payload["identity"]["id"] in refused:
            raise ConnectionError("SQS unavailable")
        return str(send(message))

    receiver.queue.send = flaky
    try:
        ids = fire(fresh, identities)
    finally:
        receiver.queue.send = send
    assert failed(fresh, ids) == len(refused) == 60
    # When the reconciler runs once
    report = reconcile(fresh)
    # Then every event was handled exactly once; the refused ones as recovered deliveries
    assert report["queued"] == 60
    counts = handled_exactly_once(fresh, ledger, identities)
    assert {identity: counts[identity] for identity in identities} == dict.fromkeys(identities, 1)
    assert ledger.recovered() == refused
    assert reconcile(fresh)["queued"] == 0


def test_a_delivery_that_got_through_but_was_recorded_failed_is_not_handled_twice(
    fresh: LocalRunner, ledger: Ledger
) -> None:
    # Given deliveries that reach the receiver, which queues them, but SailPoint records a timeout
    assert fresh.simulator is not None
    fresh.simulator.fail_deliveries(1.0, delivered=True)
    identities = [f"slow-{n:02d}" for n in range(20)]
    ids = fire(fresh, identities)
    fresh.simulator.fail_deliveries(0)
    assert failed(fresh, ids) == 20
    handled_exactly_once(fresh, ledger, identities)
    # When the reconciler queues their recovered copies
    assert reconcile(fresh)["queued"] == 20
    wait_for(lambda: queue_drained(fresh), SETTLE_SECONDS)
    # Then the worker's idempotency recognises them: still one handler call each
    assert {identity: ledger.counts()[identity] for identity in identities} == dict.fromkeys(identities, 1)
    assert ledger.recovered() == set()


def test_a_pass_with_no_failures_queues_nothing(fresh: LocalRunner, ledger: Ledger) -> None:
    identities = [f"healthy-{n:02d}" for n in range(20)]
    ids = fire(fresh, identities)
    assert failed(fresh, ids) == 0
    report = reconcile(fresh)
    assert report["queued"] == 0 and report["unrecoverable"] == 0
    counts = handled_exactly_once(fresh, ledger, identities)
    assert all(counts[identity] == 1 for identity in identities)


def run_ops(local: LocalRunner, *args: str) -> tuple[int, str, str]:
    from idn_tools.ops import main

    env = {
        "SAILPOINT_TENANT_URL": local.tenant_url,
        "SAILPOINT_CLIENT_ID": local.client_id,
        "SAILPOINT_CLIENT_SECRET": local.client_secret,
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["recover", *args])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return code, out.getvalue(), err.getvalue()


def test_failed_request_response_invocations_are_reported_and_never_queued(
    fresh: LocalRunner, ledger: Ledger
) -> None:
    # Given a pre-approval subscription whose invocation fails (the receiver refuses its credential)
    assert fresh.simulator is not None and fresh.tenant is not None
    subscription = subscribe(fresh, PRE, token="not-the-token")
    try:
        [record] = fresh.simulator.fire_event(PRE)
        fresh.simulator.wait_for_invocation(lambda r: r.id == record.id and r.settled, timeout=10)
        # When the dry run looks at the history
        code, out, _ = run_ops(
            fresh, "--since", "1h", "--dry-run", "--json", "--webhook-url", f"{fresh.api_url}/triggers/"
        )
        # Then it says the invocation is unrecoverable, with its ids only
        assert code == 0
        rows = [json.loads(line) for line in out.splitlines()]
        mine = [row for row in rows if row["invocationId"] == record.id]
        assert mine == [
            {
                "invocationId": record.id,
                "triggerId": PRE,
                "subscriptionId": subscription,
                "created": mine[0]["created"],
                "action": "unrecoverable",
            }
        ]
        # And a pass reports it once and queues nothing
        report = reconcile(fresh)
        assert report["unrecoverable"] == 1 and report["queued"] == 0
        assert reconcile(fresh)["unrecoverable"] == 0
    finally:
        fresh.tenant.delete_subscription(subscription)


def test_failures_older_than_the_retention_and_a_long_gap_are_reported_unrecoverable(
    fresh: LocalRunner, ledger: Ledger
) -> None:
    # Given a tenant that still lists failures from 49 h ago, and no successful pass for 50 h
    assert fresh.simulator is not None
    fresh.simulator.set_retention(failure=timedelta(hours=72))
    fresh.simulator.advance_clock(timedelta(hours=-49))
    fresh.simulator.fail_deliveries(1.0, status=503)
    try:
        ids = fire(fresh, [f"ancient-{n}" for n in range(5)])
    finally:
        fresh.simulator.fail_deliveries(0)
        fresh.simulator.advance_clock(timedelta(hours=49))
    assert failed(fresh, ids) == 5
    assert fresh.stack is not None  # moto keeps one state per process: this stack's table
    table = boto3.client("dynamodb", endpoint_url=fresh.aws_endpoint, region_name="us-east-1")
    name = fresh.stack.physical_ids["RecoveryStateTable"]
    long_ago = datetime.now(UTC) - timedelta(hours=50)
    table.put_item(
        TableName=name,
        Item={
            "id": {"S": "watermark"},
            "last_success": {"S": long_ago.isoformat()},
            "last_success_epoch": {"N": str(long_ago.timestamp())},
        },
    )
    try:
        # When the reconciler runs
        report = reconcile(fresh)
        # Then the gap is reported, the old failures are unrecoverable, and nothing is queued
        assert report["gap"] is not None
        assert report["unrecoverable"] == 5 and report["queued"] == 0
        assert ledger.counts() == Counter()
        # And the following pass sees no gap (the last one succeeded)
        assert reconcile(fresh)["gap"] is None
    finally:
        fresh.simulator.set_retention(failure=timedelta(hours=48))


def test_the_simulator_forgets_failures_after_48_hours(fresh: LocalRunner) -> None:
    assert fresh.simulator is not None
    fresh.simulator.fail_deliveries(1.0, refused=True)
    try:
        [invocation] = fire(fresh, ["forgotten"])
    finally:
        fresh.simulator.fail_deliveries(0)
    assert any(r.id == invocation for r in fresh.simulator.invocations())
    fresh.simulator.advance_clock(timedelta(hours=48, seconds=1))
    try:
        assert all(r.id != invocation for r in fresh.simulator.invocations())
    finally:
        fresh.simulator.advance_clock(timedelta(hours=-48, seconds=-1))
