"""Fix and redrive in local mode, per dead-letter reason: break the handler (or its model, or the
worker's configuration), deliver until dead-lettered, fix, then `idn-triggers-ops dlq redrive` through
the installed entry point. The handler then runs exactly once per event (a ledger), the redriven
deliveries show in `events list` with their outcome, and a second redrive of the empty DLQ runs nothing.

The handlers are this module's own (swapped into the running stack as a deploy would), never the
shipped templates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from pydantic import BaseModel, ConfigDict

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from idn_simulator import InvocationState
from idn_triggers import handlers
from idn_triggers.catalogue import TriggerType
from idn_triggers.envelope import DeliveryKind, split_envelope
from idn_triggers.handlers import HandlerContext, TriggerHandler
from idn_triggers.models.access_request import AccessRequestPreApproval, PreApprovalDecision
from idn_triggers.models.identity import IdentityCreated
from idn_triggers.queue import QueueSender, queued_invocation
from tests.support import trigger_document

pytestmark = pytest.mark.e2e
TOKEN = "e2e-redrive-token"
CREATED = "idn:identity-created"
PRE = "idn:access-request-pre-approval"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRunner]:
    options = LocalOptions(
        port=0, auth=InboundAuth.parse(f"bearer:{TOKEN}"), parameter_overrides={"Transport": "BOTH"}
    )
    with LocalRunner(options) as runner:
        yield runner


@pytest.fixture(autouse=True)
def clean(local: LocalRunner) -> Iterator[None]:
    assert local.simulator is not None
    local.simulator.faults.clear()
    yield
    assert dead_letters(local) == [] and dead_letters(local, events=True) == []


# -- the handlers this module owns --------------------------------------------------------------
class Ledger:
    """Each run of a handler that reached its end, with how the event was delivered."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, DeliveryKind]] = []
        self.lock = threading.Lock()

    def add(self, key: str, delivery: DeliveryKind) -> None:
        with self.lock:
            self.entries.append((key, delivery))

    def keys(self) -> list[str]:
        with self.lock:
            return sorted(key for key, _ in self.entries)

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.entries) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.entries) >= count, f"{len(self.entries)} of {count} handled"


class Strict(IdentityCreated):
    """A model with a bug: it requires a field SailPoint does not send."""

    model_config = ConfigDict(extra="allow")
    department: str


def deploy(monkeypatch: pytest.MonkeyPatch, trigger_id: str, handler: TriggerHandler) -> None:
    """What deploying a new version of the handler module does, for the running local stack."""
    module = handlers.handler_module(trigger_id, os.environ.get("HANDLERS_PACKAGE") or "trigger_handlers")
    assert module is not None
    __import__(module)
    monkeypatch.setitem(handlers._declared[module], trigger_id, handler)


def created(ledger: Ledger | None, model: type[BaseModel] = IdentityCreated) -> TriggerHandler:
    """Records the identity id in `ledger`; without a ledger, the handler is broken: it raises."""

    def function(event: IdentityCreated, context: HandlerContext) -> None:
        if ledger is None:
            raise RuntimeError("the handler bug")
        ledger.add(str(event.identity.id), context.delivery)

    return TriggerHandler(CREATED, function, model, None, True, True)


def pre_approval(ledger: Ledger | None) -> TriggerHandler:
    def function(event: AccessRequestPreApproval, context: HandlerContext) -> PreApprovalDecision:
        if ledger is None:
            raise RuntimeError("the handler bug")
        ledger.add(str(event.access_request_id), context.delivery)
        return PreApprovalDecision(approved=True, comment="redriven", approver="e2e")

    return TriggerHandler(PRE, function, AccessRequestPreApproval, PreApprovalDecision, False, True)


# -- SailPoint, the queues, the operator's command ----------------------------------------------
def subscribe(local: LocalRunner, trigger_id: str, mode: str) -> None:
    assert local.tenant is not None
    for existing in local.tenant.list_subscriptions():
        if existing["triggerId"] == trigger_id:
            local.tenant.delete_subscription(existing["id"])
    local.tenant.create_subscription(
        {
            "name": f"redrive e2e {trigger_id}",
            "triggerId": trigger_id,
            "type": "HTTP",
            "enabled": True,
            "httpConfig": {
                "url": local.webhook_url(trigger_id),
                "httpDispatchMode": mode,
                "httpAuthenticationType": "BEARER_TOKEN",
                "bearerTokenAuthConfig": {"bearerToken": TOKEN},
            },
        }
    )


def identities(local: LocalRunner, count: int) -> list[str]:
    """Fire `count` distinct identity-created events over HTTP; their identity ids."""
    assert local.simulator is not None
    example = trigger_document(CREATED)["exampleInput"]
    ids = [f"redrive-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    for identity_id in ids:
        local.simulator.fire_event(
            CREATED, {**example, "identity": {**example["identity"], "id": identity_id}}
        )
    return sorted(ids)


def eventbridge_event(identity_id: str) -> dict[str, Any]:
    """A SailPoint event as a partner bus's rule puts it on a queue."""
    example = trigger_document(CREATED)["exampleInput"]
    detail = {
        **example,
        "identity": {**example["identity"], "id": identity_id},
        "_metadata": {
            "invocationId": str(uuid.uuid4()),
            "triggerId": CREATED,
            "triggerType": "fireAndForget",
        },
    }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": CREATED,
        "source": f"aws.partner/sailpoint.com/{uuid.uuid4()}/idn/identity-created",
        "account": "123456789012",
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def sqs(local: LocalRunner) -> Any:
    return boto3.client("sqs", endpoint_url=local.aws_endpoint, region_name="us-east-1")


def queue(local: LocalRunner, name: str) -> str:
    assert local.stack is not None
    return str(local.stack.physical_ids[name])


def dead_letters(local: LocalRunner, *, events: bool = False) -> list[dict[str, str]]:
    """The DLQ's messages' attributes, left visible."""
    url = queue(local, "EventsDeadLetterQueue" if events else "DeadLetterQueue")
    found: dict[str, dict[str, str]] = {}
    for _ in range(3):
        for message in (
            sqs(local)
            .receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
            )
            .get("Messages", [])
        ):
            found[message["MessageId"]] = {
                k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()
            }
    return list(found.values())


def wait_for_dead_letters(local: LocalRunner, count: int, timeout: float = 60) -> list[dict[str, str]]:
    deadline = time.monotonic() + timeout
    while len(letters := dead_letters(local)) < count:
        assert time.monotonic() < deadline, f"{len(letters)} of {count} dead-lettered"
        time.sleep(0.2)
    return letters


def ops(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed `idn-triggers-ops`, as a new user's shell runs it (no AWS variables)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}
    result = subprocess.run(
        [str(BIN / "idn-triggers-ops"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    return result


def redrive(local: LocalRunner, *, events: bool = False) -> str:
    """`dlq redrive` of this stack's DLQ (or, with `events`, its EventBridge rule's). The queues are
    named: other modules' stacks may share this moto (discovery by endpoint alone has its own test)."""
    dead = queue(local, "EventsDeadLetterQueue" if events else "DeadLetterQueue")
    return ops(
        "dlq", "redrive", "--endpoint-url", local.aws_endpoint, "--queue-url", dead, "--to", queue(local, "WorkQueue")
    ).stdout  # fmt: skip


def archived(local: LocalRunner, since: datetime, trigger_id: str) -> list[dict[str, Any]]:
    assert local.stack is not None
    out = ops(
        "events", "list", "--endpoint-url", local.aws_endpoint, "--trigger", trigger_id,
        "--bucket", local.stack.physical_ids["ArchiveBucket"],
        "--since", since.isoformat(), "--json",
    ).stdout  # fmt: skip
    return [json.loads(line) for line in out.splitlines()]


def settle(ledger: Ledger, count: int) -> None:
    """All `count` runs happened; a second run of any would show within a few worker polls."""
    ledger.wait_for(count)
    time.sleep(1.5)
    assert len(ledger.entries) == count, ledger.entries


def assert_second_redrive_runs_nothing(local: LocalRunner, ledger: Ledger, events: bool = False) -> None:
    before = list(ledger.entries)
    out = redrive(local, events=events)
    assert "moved 0 message(s)" in out
    time.sleep(1.0)
    assert ledger.entries == before


# -- fire-and-forget ----------------------------------------------------------------------------
def test_handler_failed_fire_and_forget_redriven_after_the_fix_runs_once_per_event(
    local: LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe(local, CREATED, "SYNC")
    ledger = Ledger()
    # Given a broken handler and three events delivered until dead-lettered
    deploy(monkeypatch, CREATED, created(None))
    ids = identities(local, 3)
    letters = wait_for_dead_letters(local, 3)
    assert {letter["reason"] for letter in letters} == {"handler failed on all 3 attempts"}
    # When the handler is fixed and the operator redrives
    deploy(monkeypatch, CREATED, created(ledger))
    since = datetime.now(UTC)
    out = redrive(local)
    # Then it printed what it moved and what the worker does with it
    assert "moved 3 message(s) to the work queue" in out
    assert out.count("(handler failed on all 3 attempts) -> runs the handler again") == 3
    # And the handler ran exactly once per event, as a redrive
    settle(ledger, 3)
    assert ledger.keys() == ids
    assert {kind for _, kind in ledger.entries} == {DeliveryKind.REDRIVE}
    # And `events list` shows each redriven delivery with its outcome
    records = [r for r in archived(local, since, CREATED) if r["delivery"] == "REDRIVE"]
    assert len(records) == 3 and {r["outcome"] for r in records} == {"processed"}
    assert_second_redrive_runs_nothing(local, ledger)


def test_invalid_payload_redriven_after_the_model_fix_runs_once(
    local: LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger()
    # Given events the receiver queued, then a deploy whose model rejects them (the receiver would
    # now refuse them with a 400; the queued ones reach the worker's check)
    example = trigger_document(CREATED)["exampleInput"]
    ids = sorted(f"redrive-{uuid.uuid4().hex[:8]}" for _ in range(2))
    deploy(monkeypatch, CREATED, created(ledger, Strict))
    for identity_id in ids:
        payload = {**example, "identity": {**example["identity"], "id": identity_id}}
        message = queued_invocation(
            split_envelope(CREATED, payload), TriggerType.FIRE_AND_FORGET, timedelta(hours=1)
        )
        QueueSender(queue(local, "WorkQueue"), sqs(local)).send(message)
    letters = wait_for_dead_letters(local, 2)
    assert all(letter["reason"].startswith("invalid payload:") for letter in letters)
    assert ledger.entries == []
    # When the model is fixed and the operator redrives
    deploy(monkeypatch, CREATED, created(ledger))
    assert "moved 2 message(s)" in redrive(local)
    # Then each event ran once
    settle(ledger, 2)
    assert ledger.keys() == ids
    assert_second_redrive_runs_nothing(local, ledger)


def test_no_handler_redriven_once_the_handler_is_there_runs_once(
    local: LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe(local, CREATED, "SYNC")
    ledger = Ledger()
    worker = sys.modules["local_fn_WorkerFunction"].worker
    with monkeypatch.context() as missing:
        missing.setattr(worker.registry, "get", lambda trigger_id: None)
        [identity] = identities(local, 1)
        [letter] = wait_for_dead_letters(local, 1)
        assert letter["reason"] == "no enabled handler for this trigger"
    deploy(monkeypatch, CREATED, created(ledger))

    assert "moved 1 message(s)" in redrive(local)

    settle(ledger, 1)
    assert ledger.keys() == [identity]
    assert_second_redrive_runs_nothing(local, ledger)


def test_a_poison_message_redriven_comes_back_with_its_reason_and_runs_nothing(local: LocalRunner) -> None:
    sqs(local).send_message(QueueUrl=queue(local, "WorkQueue"), MessageBody="not a queued invocation")
    [letter] = wait_for_dead_letters(local, 1)
    assert letter["reason"] == "malformed queue message: not a QueuedInvocation v1"

    out = redrive(local)

    assert "a body it still cannot read comes back with the same reason" in out
    [again] = wait_for_dead_letters(local, 1)
    assert again["reason"] == letter["reason"] and "redrivenAt" not in again
    drain(local)


def drain(local: LocalRunner) -> None:
    """Delete what this test left in the DLQ on purpose (the operator's step 4)."""
    client = sqs(local)
    url = queue(local, "DeadLetterQueue")
    while messages := client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


# -- request-response (ASYNC) -------------------------------------------------------------------
def test_callback_refused_redriven_after_the_configuration_fix_completes_once(
    local: LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert local.simulator is not None
    subscribe(local, PRE, "ASYNC")
    ledger = Ledger()
    deploy(monkeypatch, PRE, pre_approval(ledger))
    worker = sys.modules["local_fn_WorkerFunction"].worker
    # Given a worker whose TenantApiUrl is wrong: it refuses to call the callback URL
    with monkeypatch.context() as wrong:
        wrong.setattr(
            worker, "settings", worker.settings.model_copy(update={"tenant_api_url": "https://x.example"})
        )
        [record] = local.simulator.fire_event(PRE)
        [letter] = wait_for_dead_letters(local, 1)
    assert letter["reason"].startswith("callback refused:") and ledger.entries == []
    assert local.simulator.invocation(record.id).state is InvocationState.AWAITING_CALLBACK
    # When the configuration is fixed and the operator redrives
    out = redrive(local)
    # Then the handler ran once and SailPoint received one completion
    assert "-> runs the handler again" in out
    settle(ledger, 1)
    done = local.simulator.wait_for_invocation(lambda r: r.id == record.id and r.settled, timeout=20)
    assert done.state is InvocationState.COMPLETED
    assert len([a for a in done.attempts if a.accepted]) == 1
    assert ledger.entries == [(ledger.entries[0][0], DeliveryKind.REDRIVE)]
    assert_second_redrive_runs_nothing(local, ledger)


def test_completion_refused_redriven_completes_once(
    local: LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert local.simulator is not None
    subscribe(local, PRE, "ASYNC")
    ledger = Ledger()
    deploy(monkeypatch, PRE, pre_approval(ledger))
    local.simulator.faults.fail_next_completions(1, status=400)
    [record] = local.simulator.fire_event(PRE)
    [letter] = wait_for_dead_letters(local, 1)
    assert letter["reason"].startswith("completion refused: HTTP 400")
    ledger.wait_for(1)

    redrive(local)

    settle(ledger, 2)  # the first run's answer was refused; the redrive's is accepted
    done = local.simulator.wait_for_invocation(lambda r: r.id == record.id and r.settled, timeout=20)
    assert done.state is InvocationState.COMPLETED
    assert [kind for _, kind in ledger.entries] == [DeliveryKind.LIVE, DeliveryKind.REDRIVE]
    assert_second_redrive_runs_nothing(local, ledger)


def test_async_handler_failed_is_redriven_as_a_replay_never_completed_again(
    local: LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert local.simulator is not None
    subscribe(local, PRE, "ASYNC")
    ledger = Ledger()
    # Given a broken handler: the worker fails the invocation at SailPoint, then dead-letters it
    deploy(monkeypatch, PRE, pre_approval(None))
    [record] = local.simulator.fire_event(PRE)
    [letter] = wait_for_dead_letters(local, 1)
    assert letter["reason"] == "handler failed on all 3 attempts" and letter["closedAtSailPoint"] == "true"
    failed = local.simulator.wait_for_invocation(lambda r: r.id == record.id and r.settled, timeout=20)
    assert failed.state is InvocationState.FAILED
    # When the handler is fixed and the operator redrives
    deploy(monkeypatch, PRE, pre_approval(ledger))
    since = datetime.now(UTC)
    out = redrive(local)
    # Then the handler ran once, as a replay, archived, and SailPoint received nothing more
    assert "runs as a replay: SailPoint closed this invocation (already failed with an error)" in out
    settle(ledger, 1)
    assert [kind for _, kind in ledger.entries] == [DeliveryKind.REPLAY]
    after = local.simulator.invocation(record.id)
    assert (after.state, len(after.attempts)) == (failed.state, len(failed.attempts))
    [replayed] = [r for r in archived(local, since, PRE) if r["invocation_id"] == record.id]
    assert (replayed["delivery"], replayed["outcome"], replayed["status_code"]) == (
        "REPLAY",
        "processed",
        None,
    )
    assert_second_redrive_runs_nothing(local, ledger)


def test_past_deadline_is_redriven_as_a_replay_never_completed() -> None:
    options = LocalOptions(
        port=0, auth=InboundAuth.parse(f"bearer:{TOKEN}"), parameter_overrides={"ResponseDeadline": "PT3S"}
    )
    with LocalRunner(options) as runner, pytest.MonkeyPatch.context() as monkeypatch:
        assert runner.simulator is not None and runner.tenant is not None
        subscribe(runner, PRE, "ASYNC")
        ledger = Ledger()
        deploy(monkeypatch, PRE, pre_approval(ledger))
        runner.simulator.faults.fail_next_completions(100, status=503)  # the tenant is down
        [record] = runner.simulator.fire_event(PRE)
        [letter] = wait_for_dead_letters(runner, 1)
        assert "deadline passed" in letter["reason"]
        runner.simulator.faults.clear()
        ran_live = len(ledger.entries)

        out = redrive(runner)

        assert "runs as a replay: SailPoint closed this invocation (deadline passed)" in out
        settle(ledger, ran_live + 1)
        assert ledger.entries[-1][1] is DeliveryKind.REPLAY
        assert runner.simulator.invocation(record.id).state is not InvocationState.COMPLETED
        assert_second_redrive_runs_nothing(runner, ledger)


# -- EventBridge --------------------------------------------------------------------------------
def test_an_eventbridge_event_dead_lettered_by_the_worker_redriven_after_the_fix_runs_once(
    local: LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger()
    deploy(monkeypatch, CREATED, created(None))
    events = [eventbridge_event(f"eb-{uuid.uuid4().hex[:8]}") for _ in range(2)]
    for event in events:
        sqs(local).send_message(QueueUrl=queue(local, "WorkQueue"), MessageBody=json.dumps(event))
    letters = wait_for_dead_letters(local, 2)
    assert {letter["reason"] for letter in letters} == {"handler failed on all 3 attempts"}
    deploy(monkeypatch, CREATED, created(ledger))

    assert "moved 2 message(s)" in redrive(local)

    settle(ledger, 2)
    assert ledger.keys() == sorted(e["detail"]["identity"]["id"] for e in events)
    assert {kind for _, kind in ledger.entries} == {DeliveryKind.REDRIVE}
    assert_second_redrive_runs_nothing(local, ledger)


def test_an_eventbridge_event_its_rule_dead_lettered_is_redriven_with_events_and_runs_once(
    local: LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger()
    deploy(monkeypatch, CREATED, created(ledger))
    # Given an event EventBridge could not put on the work queue (its own error attributes)
    event = eventbridge_event(f"eb-{uuid.uuid4().hex[:8]}")
    sqs(local).send_message(
        QueueUrl=queue(local, "EventsDeadLetterQueue"),
        MessageBody=json.dumps(event),
        MessageAttributes={"ERROR_CODE": {"DataType": "String", "StringValue": "SQS_QUEUE_DELETED"}},
    )
    out = redrive(local, events=True)

    assert "moved 1 message(s)" in out and "(an EventBridge event)" in out
    settle(ledger, 1)
    assert ledger.keys() == [event["detail"]["identity"]["id"]]
    assert_second_redrive_runs_nothing(local, ledger, events=True)
