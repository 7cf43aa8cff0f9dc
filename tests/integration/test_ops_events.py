"""`idn-triggers-ops events ...` and `deliveries tail` against moto's S3 and SQS over HTTP."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from pydantic import SecretStr

from idn_tools import ops
from idn_triggers.archive import ArchivedDelivery, DeliveryArchive, processed_record, s3_client
from idn_triggers.catalogue import TriggerType
from idn_triggers.envelope import DeliveryKind, ResponseMode
from idn_triggers.queue import QueuedInvocation

BUCKET = "ops-archivebucket-test"
PRE = "idn:access-request-pre-approval"
CREATED = "idn:identity-created"


def record(
    trigger_id: str, invocation_id: str, minutes_ago: float, outcome: str = "processed"
) -> ArchivedDelivery:
    request_response = trigger_id == PRE
    message = QueuedInvocation(
        trigger_id=trigger_id,
        trigger_type=TriggerType.REQUEST_RESPONSE if request_response else TriggerType.FIRE_AND_FORGET,
        mode=ResponseMode.ASYNC if request_response else None,
        invocation_id=invocation_id,
        idempotency_key=f"{trigger_id}#{invocation_id}",
        callback_url=f"https://t.api.identitynow.com/trigger-invocations/v1/{invocation_id}/complete"
        if request_response
        else None,
        secret=SecretStr("ops-secret") if request_response else None,
        received_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),  # relative to when the test runs
        payload={"identity": {"id": invocation_id, "name": "Grace Hopper"}},
    )
    answer = {"approved": True, "comment": "ok", "approver": "x"} if request_response else None
    return processed_record(message, outcome, answer, 1.0, message.received_at + timedelta(milliseconds=25))


@pytest.fixture
def archive(aws: str) -> DeliveryArchive:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return DeliveryArchive(BUCKET, s3_client())


@pytest.fixture
def stored(archive: DeliveryArchive) -> list[ArchivedDelivery]:
    records = [
        record(CREATED, "c-old", 60 * 30),  # 30 hours ago: outside the default 24 h
        record(CREATED, "c-1", 50),
        record(PRE, "p-1", 40, "completed"),
        record(CREATED, "c-2", 30, "handler_failed"),
        record(CREATED, "c-3", 20),
    ]
    for item in records:
        archive.put(item)
    return records


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = ops.main(list(argv))
    return status, out.getvalue(), err.getvalue()


def where(aws: str) -> list[str]:
    return ["--endpoint-url", aws, "--bucket", BUCKET]


def test_list_shows_the_last_24_hours_oldest_first_without_payloads(
    aws: str, stored: list[ArchivedDelivery]
) -> None:
    status, out, _ = run("events", "list", *where(aws))
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["received", "event", "id", "trigger"]
    assert [line.split()[-1] for line in lines[1:-1]] == ["c-1", "p-1", "c-2", "c-3"]
    assert lines[-1] == "4 deliveries"
    assert "Grace Hopper" not in out


def test_list_filters_by_trigger_outcome_and_window_as_json(aws: str, stored: list[ArchivedDelivery]) -> None:
    status, out, _ = run(
        "events",
        "list",
        "--json",
        "--trigger",
        CREATED,
        "--outcome",
        "processed",
        "--since",
        "2d",
        *where(aws),
    )
    rows = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and [r["invocation_id"] for r in rows] == ["c-old", "c-1", "c-3"]
    assert set(rows[0]) >= {"event_id", "received_at", "mode", "status_code", "outcome", "latency_ms"}
    assert "payload" not in rows[0]
    status, out, _ = run("events", "list", "--since", "45m", "--until", "25m", *where(aws), "--json")
    assert [json.loads(line)["invocation_id"] for line in out.splitlines()] == ["p-1", "c-2"]


def test_an_empty_window_says_so(aws: str, archive: DeliveryArchive) -> None:
    assert run("events", "list", *where(aws)) == (0, "no archived deliveries in this window\n", "")


def test_show_redacts_values_unless_revealed(aws: str, stored: list[ArchivedDelivery]) -> None:
    event_id = stored[2].event_id
    status, out, _ = run("events", "show", event_id, *where(aws))
    shown = json.loads(out)
    assert status == 0 and shown["payload"] == {"identity": {"id": "***", "name": "***"}}
    assert shown["answer"] == {"approved": True, "comment": "***", "approver": "x"}  # the decision is shown
    assert (shown["event_id"], shown["invocation_id"], shown["outcome"]) == (event_id, "p-1", "completed")
    status, out, _ = run("events", "show", "--reveal", *where(aws), event_id)
    assert json.loads(out)["payload"]["identity"]["name"] == "Grace Hopper"


def test_show_of_an_unknown_event_is_a_one_line_not_found_error(
    aws: str, stored: list[ArchivedDelivery]
) -> None:
    status, out, err = run("events", "show", "20200101T000000000000Z-00000000", *where(aws))
    assert (status, out) == (3, "")  # not found, as idn-triggers answers; 2 is a usage error
    assert err == "error: no archived event 20200101T000000000000Z-00000000 (expired, or never archived)\n"


def test_replay_dry_run_queues_nothing(aws: str, stored: list[ArchivedDelivery]) -> None:
    queue = boto3.client("sqs").create_queue(QueueName="x-WorkQueue")["QueueUrl"]
    status, out, _ = run(
        "events",
        "replay",
        "--trigger",
        CREATED,
        "--since",
        "1h",
        "--dry-run",
        *where(aws),
        "--queue-url",
        queue,
    )
    assert status == 0
    assert out.splitlines()[-1] == "would replay 3 event(s)"
    assert boto3.client("sqs").receive_message(QueueUrl=queue).get("Messages", []) == []


def test_replay_by_ids_queues_each_once_marked_as_a_replay(aws: str, stored: list[ArchivedDelivery]) -> None:
    queue = boto3.client("sqs").create_queue(QueueName="x-WorkQueue")["QueueUrl"]
    ids = [stored[1].event_id, stored[2].event_id, stored[1].event_id]
    status, out, _ = run("events", "replay", *ids, *where(aws), "--queue-url", queue, "--rate", "50/s")
    assert status == 0 and "replayed 2 event(s) as replay " in out
    messages = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    queued = sorted(
        (QueuedInvocation.model_validate_json(m["Body"]) for m in messages), key=lambda m: m.invocation_id
    )
    assert [(m.invocation_id, m.delivery, m.callback_url, m.replay_of) for m in queued] == [
        ("c-1", DeliveryKind.REPLAY, None, stored[1].event_id),
        ("p-1", DeliveryKind.REPLAY, None, stored[2].event_id),
    ]
    assert len({m.replay_id for m in queued}) == 1


def test_replay_finds_the_work_queue_of_local_mode_by_its_name(
    aws: str, stored: list[ArchivedDelivery]
) -> None:
    sqs = boto3.client("sqs")
    sqs.create_queue(QueueName="stack-DeadLetterQueue")
    queue = sqs.create_queue(QueueName="stack-WorkQueue")["QueueUrl"]
    status, _, err = run("events", "replay", stored[1].event_id, "--endpoint-url", aws)
    assert status == 0, err
    assert len(sqs.receive_message(QueueUrl=queue).get("Messages", [])) == 1


def test_tail_prints_each_new_delivery_once_as_it_arrives(
    aws: str, stored: list[ArchivedDelivery], archive: DeliveryArchive
) -> None:
    fresh = [record(CREATED, f"new-{n}", -0.01 * n) for n in range(2)]

    def write_later() -> None:
        time.sleep(1.0)
        for item in fresh:
            archive.put(item)

    writer = threading.Thread(target=write_later)
    writer.start()
    status, out, _ = run("deliveries", "tail", *where(aws), "--interval", "0.3", "--count", "2")
    writer.join()
    assert status == 0
    lines = out.splitlines()
    assert [line.split()[-1] for line in lines] == ["new-0", "new-1"]  # nothing that was there before
    assert lines[0].split()[1:6] == [CREATED, "FIRE_AND_FORGET", "200", "processed", "25ms"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["events", "list"], "give --stack-name, or --bucket, or --endpoint-url"),
        (["events", "list", "--bucket", "b", "--since", "last week"], "cannot read the time 'last week'"),
        (["events", "list", "--bucket", "b", "--since", "1h", "--until", "2h"], "--until must be later"),
        (["events", "replay", "--bucket", "b"], "give event ids, or --trigger ID --since T"),
        (
            ["events", "replay", "--bucket", "b", "--trigger", CREATED],
            "give event ids, or --trigger ID --since T",
        ),
        (["events", "show", "not-an-id", "--bucket", "b"], "not an event id"),
    ],
)
def test_bad_input_through_the_installed_command_is_one_clear_line(argv: list[str], message: str) -> None:
    # Given a new user's shell: no AWS variables at all
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    command = Path(sys.executable).parent / "idn-triggers-ops"
    result = subprocess.run(
        [str(command), *argv], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_list_piped_into_head_ends_quietly(aws: str, archive: DeliveryArchive) -> None:
    for n in range(30):
        archive.put(record(CREATED, f"many-{n}", 10 - n * 0.1))
    env = {**os.environ, "AWS_ENDPOINT_URL": aws}
    command = Path(sys.executable).parent / "idn-triggers-ops"
    pipeline = f"'{command}' events list --endpoint-url {aws} --bucket {BUCKET} --json | head -2"
    result = subprocess.run(
        ["bash", "-c", pipeline], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert len(result.stdout.splitlines()) == 2 and "Traceback" not in result.stderr


def test_list_says_when_the_limit_cut_it_short(aws: str, stored: list[ArchivedDelivery]) -> None:
    status, out, err = run("events", "list", "--limit", "2", "--json", *where(aws))
    assert status == 0 and [json.loads(line)["invocation_id"] for line in out.splitlines()] == ["c-1", "p-1"]
    assert "narrow --since/--until or raise --limit" in err


def test_replay_takes_event_ids_before_and_after_options(aws: str, stored: list[ArchivedDelivery]) -> None:
    first, second = stored[1].event_id, stored[3].event_id
    status, out, _ = run("events", "replay", first, "--dry-run", *where(aws), second)
    assert status == 0
    assert [line.split()[2] for line in out.splitlines()[:-1]] == [first, second]  # "would replay: ID ..."
