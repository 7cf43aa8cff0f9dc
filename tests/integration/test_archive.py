"""The delivery archive against moto's S3 (and SQS, DynamoDB) over HTTP: what the receiver and the
worker keep, how it is laid out and read back, replays, and that a broken archive changes no answer."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from botocore.exceptions import ClientError
from pydantic import SecretStr

from idn_tools.events import Replay, once_each
from idn_triggers.archive import (
    ArchivedDelivery,
    ArchiveError,
    ArchiveRecorder,
    DeliveryArchive,
    Window,
    processed_record,
    s3_client,
)
from idn_triggers.callback import CallbackOutcome, CallbackResult
from idn_triggers.catalogue import TriggerType
from idn_triggers.envelope import DeliveryKind, ResponseMode
from idn_triggers.handlers import HandlerContext, HandlerRegistry, TriggerHandler
from idn_triggers.queue import QueuedInvocation
from idn_triggers.settings import WorkerSettings
from idn_triggers.worker import Worker, WorkerOutcome
from tests.support import FakeLambdaContext, load_event, load_function

BUCKET = "test-archivebucket-1"
PRE = "idn:access-request-pre-approval"
CREATED = "idn:identity-created"
CALLBACK_SECRET = "archive-callback-secret-c2VjcmV0"
TENANT = "https://acme.api.identitynow.com"
T0 = datetime(2026, 12, 1, 23, 59, 0, tzinfo=UTC)


@pytest.fixture
def bucket(aws: str) -> str:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


def stored(bucket: str) -> dict[str, dict[str, Any]]:
    """Every object of the archive, by key, parsed."""
    s3 = boto3.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys}


def message(
    trigger_id: str = PRE,
    invocation_id: str = "inv-1",
    received_at: datetime = T0,
    payload: dict[str, Any] | None = None,
    **extra: Any,
) -> QueuedInvocation:
    request_response = trigger_id == PRE
    fields: dict[str, Any] = {
        "trigger_id": trigger_id,
        "trigger_type": TriggerType.REQUEST_RESPONSE if request_response else TriggerType.FIRE_AND_FORGET,
        "mode": ResponseMode.ASYNC if request_response else None,
        "invocation_id": invocation_id,
        "idempotency_key": f"{trigger_id}#{invocation_id}",
        "received_at": received_at,
        "payload": payload if payload is not None else {"n": invocation_id},
    }
    if request_response:
        fields |= {
            "callback_url": f"{TENANT}/trigger-invocations/v1/{invocation_id}/complete",
            "secret": SecretStr(CALLBACK_SECRET),
        }
    return QueuedInvocation(**(fields | extra))


def record_of(msg: QueuedInvocation, finished: timedelta = timedelta(milliseconds=40)) -> ArchivedDelivery:
    return processed_record(msg, "processed", None, 1.5, msg.received_at + finished)


# -- layout and reading back ----------------------------------------------------------------------------
def test_records_are_keyed_by_day_then_trigger_then_time(bucket: str) -> None:
    # Given records of two triggers, either side of midnight
    archive = DeliveryArchive(bucket, s3_client())
    late = record_of(message(CREATED, "a", T0))
    early = record_of(message(PRE, "b", T0 + timedelta(minutes=2)))
    # When they are archived
    keys = [archive.put(late), archive.put(early)]
    # Then each key names the arrival day, the trigger and the event id (which starts with the time)
    assert keys == [
        f"events/2026-12-01/{CREATED}/{late.event_id}.json",
        f"events/2026-12-02/{PRE}/{early.event_id}.json",
    ]
    assert late.event_id.startswith("20261201T235900000000Z-")
    assert set(stored(bucket)) == set(keys)


def test_a_window_lists_only_its_records_oldest_first_across_days(bucket: str) -> None:
    archive = DeliveryArchive(bucket, s3_client())
    records = [record_of(message(CREATED, f"i{n}", T0 + timedelta(seconds=30 * n))) for n in range(6)]
    for record in reversed(records):
        archive.put(record)
    archive.put(record_of(message(PRE, "other", T0 + timedelta(seconds=40))))
    # When a window from the second to the fifth record is listed for one trigger
    window = Window(records[1].received_at, records[4].received_at)
    keys = archive.keys(window, CREATED)
    # Then the second, third and fourth come back, in time order (until is exclusive)
    assert keys == [r.key for r in records[1:4]]
    # And without a trigger, the other trigger's record in the window is listed too
    assert len(archive.keys(window)) == 4


def test_an_event_is_found_by_its_id_alone(bucket: str) -> None:
    archive = DeliveryArchive(bucket, s3_client())
    record = record_of(message(CREATED, "find-me"))
    archive.put(record)
    archive.put(record_of(message(PRE, "noise")))
    assert archive.find(record.event_id) == record
    with pytest.raises(ArchiveError, match="no archived event"):
        archive.find("20261201T000000000000Z-00000000")
    with pytest.raises(ArchiveError, match="not an event id"):
        archive.find("../../etc")


def test_a_worker_record_never_holds_the_callback_secret_or_url(bucket: str) -> None:
    msg = message(PRE, "secretive")
    DeliveryArchive(bucket, s3_client()).put(processed_record(msg, "completed", {"approved": True}, 2.0, T0))
    [body] = stored(bucket).values()
    text = json.dumps(body)
    assert CALLBACK_SECRET not in text
    assert "trigger-invocations" not in text
    assert body["answer"] == {"approved": True} and body["status_code"] == 200


def test_the_templates_bucket_policy_refuses_plain_http(aws: str) -> None:
    # Given a bucket with the template's TLS-only policy (moto evaluates bucket policies)
    from idn_local.stack import Stack
    from tests.support import ROOT

    stack = Stack(
        ROOT / "template.yaml",
        {"TenantApiUrl": TENANT, "SailPointClientId": "x", "SailPointClientSecret": "y"},
    )
    stack.physical_ids["ArchiveBucket"] = "tls-only-archive"
    stack.attributes[("ArchiveBucket", "Arn")] = "arn:aws:s3:::tls-only-archive"
    policy = stack.resolve(stack.resources["ArchiveBucketPolicy"]["Properties"]["PolicyDocument"])
    s3 = s3_client(attempts=1)
    s3.create_bucket(Bucket="tls-only-archive")
    s3.put_bucket_policy(Bucket="tls-only-archive", Policy=json.dumps(policy))
    # When a record is written over plain HTTP (moto's endpoint)
    with pytest.raises(ClientError, match=r"\(403\).*PutObject"):
        DeliveryArchive("tls-only-archive", s3).put(record_of(message(CREATED, "plain")))


# -- failures are metrics, never exceptions --------------------------------------------------------------
def test_a_missing_bucket_is_a_metric_and_a_warning_never_an_exception(
    aws: str, capsys: pytest.CaptureFixture[str], service_logs: io.StringIO
) -> None:
    recorder = ArchiveRecorder.for_bucket("no-such-archive-bucket", quick=True)
    record = record_of(message(CREATED, "lost", payload={"name": "Ada Lovelace"}))
    # When the bucket is not there
    assert recorder.record(record) is False
    # Then one ArchiveFailures metric, and a warning naming the event but no payload value
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert [m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] for m in metrics] == ["ArchiveFailures"]
    assert metrics[0]["ArchiveFailures"] == [1.0]
    assert metrics[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]  # what the alarm watches
    logged = service_logs.getvalue()
    assert "delivery not archived" in logged and record.event_id in logged
    assert "Ada Lovelace" not in logged


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- the receiver -----------------------------------------------------------------------------------------
@pytest.fixture
def receiver(aws: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., ModuleType]:
    def start(**env: str) -> ModuleType:
        monkeypatch.setenv("INBOUND_AUTH_TYPE", "NO_AUTH")
        monkeypatch.delenv("INBOUND_SECRET_ID", raising=False)
        monkeypatch.setenv("TENANT_API_URL", TENANT)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return load_function("receiver")

    return start


def sync_event() -> dict[str, Any]:
    return load_event("api/pre-approval.sync.bearer.json")


def answer(module: ModuleType, event: dict[str, Any]) -> tuple[int, Any]:
    response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_the_receiver_archives_a_sync_answer_with_its_timings(
    bucket: str, receiver: Callable[..., ModuleType]
) -> None:
    module = receiver(ARCHIVE_BUCKET=bucket)
    status, body = answer(module, sync_event())
    [(key, record)] = stored(bucket).items()
    assert key.startswith(f"events/{datetime.now(UTC):%Y-%m-%d}/{PRE}/")
    assert (record["mode"], record["status_code"], record["outcome"]) == ("SYNC", status, "answered")
    assert record["answer"] == body and record["archived_by"] == "receiver"
    assert record["payload"] == json.loads(sync_event()["body"])
    assert record["latency_ms"] >= 0 and record["delivery"] == "LIVE"


def test_the_receiver_leaves_queued_deliveries_to_the_worker(
    bucket: str, receiver: Callable[..., ModuleType]
) -> None:
    queue = boto3.client("sqs").create_queue(QueueName="work")["QueueUrl"]
    module = receiver(ARCHIVE_BUCKET=bucket, WORK_QUEUE_URL=queue)
    status, _ = answer(module, load_event("api/identity-created.json"))
    assert status == 200
    assert stored(bucket) == {}


@pytest.mark.parametrize("broken", ["missing bucket", "unreachable S3"])
def test_a_broken_archive_changes_nothing_the_receiver_answers(
    bucket: str, receiver: Callable[..., ModuleType], broken: str
) -> None:
    queue = boto3.client("sqs").create_queue(QueueName="work")["QueueUrl"]
    events = [
        sync_event(),
        load_event("api/identity-created.json"),
        load_event("api/pre-approval.malformed-json.json"),
    ]
    off = receiver(WORK_QUEUE_URL=queue)
    expected = [answer(off, event) for event in events]
    # Given an archive that cannot be written
    on = receiver(WORK_QUEUE_URL=queue, ARCHIVE_BUCKET="no-such-archive-bucket")
    if broken == "unreachable S3":
        on.receiver.archive.archive._client = s3_client(
            f"http://127.0.0.1:{closed_port()}", connect_timeout=0.5, read_timeout=1, attempts=1
        )
    # Then every answer is what it is with the archive off
    assert [answer(on, event) for event in events] == expected
    assert expected[0][0] == 200


# -- the worker -------------------------------------------------------------------------------------------
class Completions:
    """SailPoint's completion endpoint as the worker sees it: records what was completed."""

    def __init__(self) -> None:
        self.completed: list[tuple[str, Any]] = []

    def complete(
        self, callback_url: str, secret: str, /, *, output: Any = None, error: str | None = None
    ) -> CallbackResult:
        self.completed.append((callback_url, output))
        return CallbackResult(CallbackOutcome.COMPLETED, "204")


class Seen:
    """A handler for identity-created and pre-approval that records what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, DeliveryKind]] = []

    def registry(self) -> HandlerRegistry:
        from pydantic import BaseModel, ConfigDict

        class Anything(BaseModel):
            model_config = ConfigDict(extra="allow")

        class Decision(BaseModel):
            approved: bool
            comment: str
            approver: str

        seen = self

        def handle(event: Anything, context: HandlerContext) -> Decision | None:
            seen.calls.append((context.trigger_id, context.invocation_id, context.delivery))
            if context.trigger_id == PRE:
                return Decision(approved=True, comment="fixed", approver="test")
            return None

        class Registry(HandlerRegistry):
            def get(self, trigger_id: str) -> TriggerHandler | None:
                output = None if trigger_id == CREATED else Decision
                return TriggerHandler(trigger_id, handle, Anything, output, trigger_id == CREATED, True)

        return Registry("trigger_handlers")


@pytest.fixture
def worker_parts(bucket: str) -> Iterator[tuple[Callable[..., Worker], Completions, Seen, Any, str]]:
    sqs = boto3.client("sqs")
    work = sqs.create_queue(QueueName="work")["QueueUrl"]
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    boto3.client("dynamodb").create_table(
        TableName="idempotency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    settings = WorkerSettings.from_env(
        {
            "TENANT_API_URL": TENANT,
            "SAILPOINT_CLIENT_SECRET_ID": "unused",
            "TOKEN_SECRET_ID": "unused",
            "IDEMPOTENCY_TABLE": "idempotency",
            "WORK_QUEUE_URL": work,
            "DEAD_LETTER_QUEUE_URL": dlq,
        }
    )
    completions, seen = Completions(), Seen()

    def build(archive_bucket: str | None = bucket) -> Worker:
        return Worker(
            settings,
            seen.registry(),
            completions,
            sqs,
            run_once=idempotent_function(
                data_keyword_argument="message",
                persistence_store=DynamoDBPersistenceLayer(table_name="idempotency"),
                config=IdempotencyConfig(event_key_jmespath="idempotency_key"),
            ),
            archive=ArchiveRecorder.for_bucket(archive_bucket) if archive_bucket else None,
        )

    yield build, completions, seen, sqs, work


def lambda_record(msg: QueuedInvocation, message_id: str = "m-1") -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": msg.model_dump_json(),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": msg.lambda_record_attributes(),
    }


def test_the_worker_archives_what_it_completed_once_even_if_delivered_twice(
    bucket: str, worker_parts: tuple[Callable[..., Worker], Completions, Seen, Any, str]
) -> None:
    build, completions, _, _, _ = worker_parts
    worker = build()
    msg = message(PRE, "w-1", datetime.now(UTC))
    # When SQS delivers the same message twice
    outcomes = [
        worker.process_record(lambda_record(msg, "a")),
        worker.process_record(lambda_record(msg, "b")),
    ]
    # Then it was completed once (the second absorbed, visibly), and archived once, with the answer
    assert [WorkerOutcome(o) for o in outcomes] == [WorkerOutcome.COMPLETED, WorkerOutcome.DUPLICATE]
    assert len(completions.completed) == 1
    [record] = stored(bucket).values()
    assert (record["mode"], record["status_code"], record["outcome"]) == ("ASYNC", 200, "completed")
    assert record["answer"] == completions.completed[0][1]
    assert record["handler_ms"] is not None and record["archived_by"] == "worker"
    assert CALLBACK_SECRET not in json.dumps(record)


def test_a_broken_archive_changes_nothing_the_worker_does(
    bucket: str, worker_parts: tuple[Callable[..., Worker], Completions, Seen, Any, str]
) -> None:
    build, completions, seen, _, _ = worker_parts
    worker = build("no-such-archive-bucket")
    outcome = worker.process_record(lambda_record(message(PRE, "w-2", datetime.now(UTC))))
    assert outcome is WorkerOutcome.COMPLETED
    assert len(completions.completed) == 1 and len(seen.calls) == 1


def test_a_replay_runs_the_handler_again_marked_and_never_completes_at_sailpoint(
    bucket: str, worker_parts: tuple[Callable[..., Worker], Completions, Seen, Any, str]
) -> None:
    build, completions, seen, sqs, work = worker_parts
    worker = build()
    live = message(PRE, "r-1", datetime.now(UTC) - timedelta(minutes=5))
    worker.process_record(lambda_record(live))
    archive = DeliveryArchive(bucket, s3_client())
    [original] = archive.records(archive.keys(Window(live.received_at, datetime.now(UTC))))
    # When one replay command queues the event (twice in its selection) and SQS delivers it twice
    replay = Replay(sqs, work, replay_id="replay-1")
    list(replay.send(once_each([original, original])))
    [queued] = sqs.receive_message(QueueUrl=work, MaxNumberOfMessages=10).get("Messages", [])
    replayed = QueuedInvocation.model_validate_json(queued["Body"])
    for copy in ("c1", "c2"):
        worker.process_record(lambda_record(replayed, copy))
    # Then the handler ran once more, told it is a replay, and SailPoint heard nothing more
    assert seen.calls == [(PRE, "r-1", DeliveryKind.LIVE), (PRE, "r-1", DeliveryKind.REPLAY)]
    assert len(completions.completed) == 1
    assert replayed.callback_url is None and replayed.secret is None
    # And the replay is archived as such, pointing at the original
    records = [r for r in stored(bucket).values() if r["delivery"] == "REPLAY"]
    assert [(r["replay_of"], r["outcome"], r["status_code"]) for r in records] == [
        (original.event_id, "processed", None)
    ]
    assert records[0]["answer"] == {"approved": True, "comment": "fixed", "approver": "test"}


def test_a_second_replay_command_runs_the_event_again(
    bucket: str, worker_parts: tuple[Callable[..., Worker], Completions, Seen, Any, str]
) -> None:
    build, _, seen, sqs, work = worker_parts
    worker = build()
    record = record_of(message(CREATED, "twice", datetime.now(UTC)))
    for replay_id in ("first", "second"):
        list(Replay(sqs, work, replay_id=replay_id).send([record]))
    queued = sqs.receive_message(QueueUrl=work, MaxNumberOfMessages=10).get("Messages", [])
    for n, item in enumerate(queued):
        worker.process_record(lambda_record(QueuedInvocation.model_validate_json(item["Body"]), str(n)))
    assert seen.calls == [(CREATED, "twice", DeliveryKind.REPLAY)] * 2


def test_replays_are_paced_by_the_rate(bucket: str) -> None:
    sent: list[float] = []
    now = [0.0]

    class Sqs:
        def send_message(self, **_: Any) -> None:
            sent.append(now[0])

    def sleep(seconds: float) -> None:
        now[0] += seconds

    records = [record_of(message(CREATED, f"p{n}")) for n in range(5)]
    list(Replay(Sqs(), "q", rate=2.0, sleep=sleep, clock=lambda: now[0]).send(records))
    assert sent == [0.0, 0.5, 1.0, 1.5, 2.0]


COLD_START = """
import sys
from tests.support import load_function
module = load_function("receiver")
print(sorted(name for name in ("boto3", "idn_triggers.archive") if name in sys.modules))
print(type(module.receiver.archive).__name__)
"""


@pytest.mark.parametrize(
    ("archive_bucket", "loaded", "recorder"),
    [("", "[]", "NoneType"), (BUCKET, "['idn_triggers.archive']", "ArchiveRecorder")],
)
def test_the_receiver_cold_start_imports_the_archive_only_when_on_and_never_boto3(
    archive_bucket: str, loaded: str, recorder: str
) -> None:
    # Given a fresh interpreter (a new container) with the archive off, then on
    import os
    import subprocess
    import sys

    from tests.support import ROOT

    env = {**os.environ, "INBOUND_AUTH_TYPE": "NO_AUTH", "ARCHIVE_BUCKET": archive_bucket}
    env.pop("INBOUND_SECRET_ID", None)
    result = subprocess.run(
        [sys.executable, "-c", COLD_START],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    # Then boto3 waits for the first archived answer, and the archive module is there only when on
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [loaded, recorder]
