"""Recovery passes (idn_triggers.recovery) against the tenant simulator over HTTP and moto's
DynamoDB and SQS over HTTP: never twice, rate limit, legacy paths, TEST invocations, send failures."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest
from pydantic import SecretStr

from idn_simulator import TenantSimulator
from idn_triggers.catalogue import trigger_document
from idn_triggers.envelope import DeliveryKind
from idn_triggers.queue import QueuedInvocation, QueueSender, idempotency_key
from idn_triggers.recovery import DynamoDBRecoveryState, PassReport, Reconciler, stack_subscriptions
from idn_triggers.sailpoint_api import Family, SailPointClient
from idn_triggers.tokens import ClientCredentials, ClientCredentialsTokenProvider
from tests.integration.conftest_simulator import (
    CLIENT_ID,
    CLIENT_SECRET,
    IDENTITY_CHANGED,
    Receiver,
    http_subscription,
    running_receiver,
)
from tests.support import ROOT

TABLE = "recovery-test-RecoveryStateTable"


@dataclass
class Stack:
    """A subscribed receiver, the tenant's API client, and the AWS side in moto."""

    sim: TenantSimulator
    receiver: Receiver
    webhook: str
    dynamodb: Any
    sqs: Any
    queue_url: str
    sleeps: list[float]

    def api(self, family: Family = "v1") -> SailPointClient:
        credentials = ClientCredentials(client_id=CLIENT_ID, client_secret=SecretStr(CLIENT_SECRET))
        tokens = ClientCredentialsTokenProvider(self.sim.url, lambda: credentials)
        return SailPointClient(self.sim.url, tokens, family=family, sleep=self.sleeps.append)

    def reconciler(self, family: Family = "v1", queue_url: str | None = None, **options: Any) -> Reconciler:
        api = self.api(family)
        return Reconciler(
            api,
            lambda: stack_subscriptions(api, self.webhook),
            DynamoDBRecoveryState(self.dynamodb, TABLE),
            QueueSender(queue_url or self.queue_url, self.sqs),
            **options,
        )

    def fire(self, count: int, prefix: str = "event") -> list[str]:
        example = trigger_document(IDENTITY_CHANGED)["exampleInput"]
        ids = []
        for n in range(count):
            payload = {**example, "identity": {**example["identity"], "id": f"{prefix}-{n}"}}
            ids += [record.id for record in self.sim.fire_event(IDENTITY_CHANGED, payload)]
        for invocation in ids:
            self.sim.wait_for_invocation(invocation, timeout=10)
        return ids

    def queued(self) -> list[QueuedInvocation]:
        messages: dict[str, QueuedInvocation] = {}
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60
            ).get("Messages", [])
            if not batch:
                return list(messages.values())
            for message in batch:
                messages[message["MessageId"]] = QueuedInvocation.model_validate_json(message["Body"])


@pytest.fixture
def stack(aws: str, sim: TenantSimulator) -> Iterator[Stack]:
    with running_receiver() as receiver:
        webhook = receiver.url.rsplit("/", 1)[0] + "/triggers/"
        dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        queue_url = sqs.create_queue(QueueName="recovery-test-WorkQueue")["QueueUrl"]
        built = Stack(sim, receiver, webhook, dynamodb, sqs, queue_url, [])
        built.api().create_subscription(http_subscription(IDENTITY_CHANGED, f"{webhook}{IDENTITY_CHANGED}"))
        yield built
        sim.fail_deliveries(0)


def test_failed_deliveries_are_queued_as_recovered_with_the_live_idempotency_key(stack: Stack) -> None:
    # Given 3 events SailPoint could not deliver and 2 it did
    stack.sim.fail_deliveries(1.0, status=503)
    lost = stack.fire(3, "lost")
    stack.sim.fail_deliveries(0)
    stack.fire(2, "delivered")
    # When a pass runs
    report = stack.reconciler().run()
    # Then the 3 failed ones are queued, as recovered deliveries keyed like their live copy
    assert sorted(f.entry.id for f in report.queued) == sorted(lost)
    messages = stack.queued()
    assert {m.invocation_id for m in messages} == set(lost)
    assert all(m.delivery is DeliveryKind.RECOVERED and m.mode is None for m in messages)
    assert {m.idempotency_key for m in messages} == {
        idempotency_key(IDENTITY_CHANGED, m.payload) for m in messages
    }


def test_two_passes_at_once_queue_each_event_once(stack: Stack) -> None:
    stack.sim.fail_deliveries(1.0, status=503)
    lost = stack.fire(25, "race")
    stack.sim.fail_deliveries(0)
    reports: list[PassReport] = []
    barrier = threading.Barrier(2)

    def one_pass() -> None:
        reconciler = stack.reconciler()
        barrier.wait()
        reports.append(reconciler.run())

    threads = [threading.Thread(target=one_pass) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(report.queued) for report in reports) == 25
    assert sorted(m.invocation_id for m in stack.queued()) == sorted(lost)
    assert len(stack.reconciler().run().queued) == 0


def test_a_pass_that_cannot_send_gives_its_claims_back_for_the_next(stack: Stack) -> None:
    stack.sim.fail_deliveries(1.0, refused=True)
    stack.fire(4, "unsent")
    stack.sim.fail_deliveries(0)
    missing_queue = stack.queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    broken = stack.reconciler(queue_url=missing_queue).run()
    assert broken.send_failures == 4 and not broken.complete and broken.queued == []
    assert len(stack.reconciler().run().queued) == 4


def test_the_rate_limit_is_honoured_through_retry_after(stack: Stack) -> None:
    stack.sim.fail_deliveries(1.0, status=503)
    stack.fire(2, "throttled")
    stack.sim.fail_deliveries(0)
    stack.sim.faults.throttle_next_requests(2, retry_after=1)
    report = stack.reconciler().run()
    assert len(report.queued) == 2
    assert stack.sleeps == [1.0, 1.0]


def test_legacy_beta_paths_work_the_same(stack: Stack) -> None:
    stack.sim.fail_deliveries(1.0, status=503)
    lost = stack.fire(2, "beta")
    stack.sim.fail_deliveries(0)
    report = stack.reconciler(family="beta").run()
    assert sorted(f.entry.id for f in report.queued) == sorted(lost)


def test_test_invocations_are_ignored_unless_asked_for(stack: Stack) -> None:
    stack.receiver.answer_with(500)
    [started] = stack.api().test_invocation(IDENTITY_CHANGED)
    stack.sim.wait_for_invocation(started["id"], timeout=10)
    assert stack.reconciler().run().findings == []
    report = stack.reconciler(include_tests=True).run()
    assert [f.entry.id for f in report.queued] == [started["id"]]


def test_other_stacks_subscriptions_are_left_alone(stack: Stack) -> None:
    with running_receiver() as other:
        other.answer_with(500)
        stack.api().create_subscription(http_subscription(IDENTITY_CHANGED, f"{other.url}/other"))
        stack.fire(1, "theirs")
        report = stack.reconciler().run()
    assert report.findings == []


def test_the_watermark_only_moves_forward(stack: Stack) -> None:
    from datetime import UTC, datetime

    state = DynamoDBRecoveryState(stack.dynamodb, TABLE)
    later = datetime.now(UTC)
    state.record_success(later)
    state.record_success(later - timedelta(minutes=5))  # a slower pass that ends after a newer one
    assert state.last_success() == later


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(ROOT / ".venv" / "bin" / "idn-triggers-ops")]
    if not (ROOT / ".venv" / "bin" / "idn-triggers-ops").exists():  # not installed: the module
        command = [sys.executable, "-m", "idn_tools.ops"]
    clean = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run(
        [*command, "recover", *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=60,
        check=False,
    )


def test_recover_without_a_tenant_says_what_to_set() -> None:
    result = run_cli("--since", "6h", "--dry-run", "--json", "--all-subscriptions")
    assert result.returncode == 2
    assert "SAILPOINT_CLIENT_ID" in result.stderr and "Traceback" not in result.stderr


def test_recover_with_a_bad_duration_says_how_to_write_one() -> None:
    result = run_cli("--dry-run", "--since", "yesterday")
    assert result.returncode == 2
    assert "30m, 6h, 2d" in result.stderr and "Traceback" not in result.stderr


def test_recover_dry_run_json_prints_one_object_per_invocation_and_touches_no_aws(stack: Stack) -> None:
    stack.sim.fail_deliveries(1.0, status=503)
    lost = stack.fire(3, "dry")
    stack.sim.fail_deliveries(0)
    env = {
        "SAILPOINT_TENANT_URL": stack.sim.url,
        "SAILPOINT_CLIENT_ID": CLIENT_ID,
        "SAILPOINT_CLIENT_SECRET": CLIENT_SECRET,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: any AWS call would fail
    }
    result = run_cli("--json", "--webhook-url", stack.webhook, "--dry-run", "--since", "1h", env=env)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(row["invocationId"] for row in rows) == sorted(lost)
    assert all(
        set(row) == {"invocationId", "triggerId", "subscriptionId", "created", "action"} for row in rows
    )
    assert {row["action"] for row in rows} == {"queue"}
    assert stack.queued() == []
    # piped into head, it stops quietly
    piped = subprocess.run(  # noqa: S602 - a fixed command line, piped as a user would
        f"{' '.join(run_cli_command())} recover --since 1h --dry-run --json --webhook-url {stack.webhook} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", **env},
        timeout=60,
        check=False,
    )
    assert len(piped.stdout.splitlines()) == 1 and "Traceback" not in piped.stderr


def run_cli_command() -> list[str]:
    installed = ROOT / ".venv" / "bin" / "idn-triggers-ops"
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "idn_tools.ops"]


def test_recover_queues_through_the_stack_resources_found_at_the_endpoint(stack: Stack, aws: str) -> None:
    stack.sim.fail_deliveries(1.0, status=503)
    lost = stack.fire(2, "ops")
    stack.sim.fail_deliveries(0)
    env = {
        "SAILPOINT_TENANT_URL": stack.sim.url,
        "SAILPOINT_CLIENT_ID": CLIENT_ID,
        "SAILPOINT_CLIENT_SECRET": CLIENT_SECRET,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    args = ("--since", "2h", "--endpoint-url", aws, "--webhook-url", stack.webhook, "--json")
    first = run_cli(*args, env=env)
    assert first.returncode == 0, first.stderr
    assert sorted(json.loads(line)["invocationId"] for line in first.stdout.splitlines()) == sorted(lost)
    second = run_cli(*args, env=env)
    assert second.returncode == 0 and second.stdout == ""
    assert "2 already done" in second.stderr
