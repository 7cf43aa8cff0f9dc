"""The operator's DLQ commands (tools/idn_tools/ops.py) against moto's SQS over HTTP."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from idn_tools import ops

SECRET = "dlq-callback-secret-never-shown"
PAYLOAD_VALUE = "William Wilson (PII)"


def queue_pair() -> tuple[Any, str, str]:
    sqs = boto3.client("sqs")
    work = sqs.create_queue(QueueName="ops-test-WorkQueue")["QueueUrl"]
    dlq = sqs.create_queue(QueueName="ops-test-DeadLetterQueue")["QueueUrl"]
    return sqs, dlq, work


def body(invocation_id: str) -> str:
    return json.dumps(
        {
            "version": 1,
            "trigger_id": "idn:access-request-pre-approval",
            "invocation_id": invocation_id,
            "secret": SECRET,
            "payload": {"requestedFor": {"name": PAYLOAD_VALUE}},
        }
    )


def dead_letter(
    sqs: Any, dlq: str, invocation_id: str, reason: str | None = "completion refused: HTTP 400"
) -> None:
    attributes = {
        "triggerId": {"DataType": "String", "StringValue": "idn:access-request-pre-approval"},
        "invocationId": {"DataType": "String", "StringValue": invocation_id},
    }
    if reason is not None:
        attributes["reason"] = {"DataType": "String", "StringValue": reason}
        attributes["failedAt"] = {"DataType": "String", "StringValue": "2026-11-27T12:00:00+00:00"}
        attributes["receiveCount"] = {"DataType": "Number", "StringValue": "1"}
    sqs.send_message(QueueUrl=dlq, MessageBody=body(invocation_id), MessageAttributes=attributes)


def test_list_shows_reason_trigger_invocation_and_age_never_the_body(
    aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs, dlq, _ = queue_pair()
    dead_letter(sqs, dlq, "inv-1")
    dead_letter(sqs, dlq, "inv-2", reason=None)  # moved by SQS's redrive policy: no reason attribute

    assert ops.main(["dlq", "list", "--queue-url", dlq, "--endpoint-url", aws]) == 0
    out = capsys.readouterr().out
    assert "inv-1" in out and "completion refused: HTTP 400" in out
    assert "inv-2" in out and "moved by SQS after maxReceiveCount" in out
    assert "idn:access-request-pre-approval" in out and "2 dead-lettered message(s)" in out
    assert SECRET not in out and PAYLOAD_VALUE not in out


def test_list_as_json_and_listing_leaves_the_messages_in_place(
    aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs, dlq, _ = queue_pair()
    dead_letter(sqs, dlq, "inv-1")

    ops.main(["dlq", "list", "--endpoint-url", aws, "--json", "--hold-seconds", "0"])  # found by name
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["invocation_id"] == "inv-1" and row["reason"].startswith("completion refused")
    assert row["age_seconds"] is not None and "receipt_handle" not in row
    letters = ops.DeadLetterQueue(sqs, dlq).list(hold_seconds=0)
    assert [letter.invocation_id for letter in letters] == ["inv-1"]


def test_aws_endpoint_url_from_the_environment_stands_for_the_flag(
    aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given local mode's CLI env file sourced: AWS_ENDPOINT_URL set (the aws fixture), no flag
    sqs, dlq, _ = queue_pair()
    dead_letter(sqs, dlq, "inv-env")

    assert ops.main(["dlq", "list", "--json", "--hold-seconds", "0"]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["invocation_id"] == "inv-env"


def test_redrive_moves_the_chosen_messages_with_routing_attributes_only(aws: str) -> None:
    sqs, dlq, work = queue_pair()
    for invocation_id in ("inv-1", "inv-2", "inv-3"):
        dead_letter(sqs, dlq, invocation_id)

    moved, _ = ops.DeadLetterQueue(sqs, dlq).redrive(work, invocation_ids=["inv-2"], hold_seconds=0)

    assert [letter.invocation_id for letter in moved] == ["inv-2"]
    [message] = sqs.receive_message(QueueUrl=work, MessageAttributeNames=["All"])["Messages"]
    assert message["Body"] == body("inv-2")
    assert set(message["MessageAttributes"]) == {"triggerId", "invocationId", "redrivenAt"}  # no stale reason
    remaining = ops.DeadLetterQueue(sqs, dlq).list(hold_seconds=0)
    assert sorted(letter.invocation_id or "" for letter in remaining) == ["inv-1", "inv-3"]


def test_redrive_dry_run_and_limit(aws: str, capsys: pytest.CaptureFixture[str]) -> None:
    sqs, dlq, work = queue_pair()
    for invocation_id in ("inv-1", "inv-2"):
        dead_letter(sqs, dlq, invocation_id)

    dry = [
        "dlq",
        "redrive",
        "--queue-url",
        dlq,
        "--to",
        work,
        "--endpoint-url",
        aws,
        "--dry-run",
        "--hold-seconds",
        "0",
    ]
    assert ops.main(dry) == 0
    assert "would move 2 message(s)" in capsys.readouterr().out
    assert sqs.receive_message(QueueUrl=work).get("Messages", []) == []

    assert (
        ops.main(["dlq", "redrive", "--queue-url", dlq, "--to", work, "--endpoint-url", aws, "--max", "1"])
        == 0
    )
    assert "moved 1 message(s)" in capsys.readouterr().out


def test_redrive_by_reason_prefix(aws: str) -> None:
    sqs, dlq, work = queue_pair()
    dead_letter(sqs, dlq, "inv-1", reason="deadline passed while retrying: HTTP 503")
    dead_letter(sqs, dlq, "inv-2", reason="completion refused: HTTP 400")

    moved, skipped = ops.DeadLetterQueue(sqs, dlq).redrive(
        work, reason_prefix="completion refused", hold_seconds=0
    )

    assert [letter.invocation_id for letter in moved] == ["inv-2"]
    assert [letter.invocation_id for letter in skipped] == ["inv-1"]


def test_stack_outputs_name_the_queues() -> None:
    class CloudFormation:
        def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803 - boto3's spelling
            outputs = [
                {"OutputKey": "DeadLetterQueueUrl", "OutputValue": "dlq"},
                {"OutputKey": "WorkQueueUrl", "OutputValue": "work"},
            ]
            return {"Stacks": [{"Outputs": outputs}]}

    assert ops.stack_queue_urls(CloudFormation(), "my-stack") == ("dlq", "work")


def test_no_queue_named_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert ops.main(["dlq", "list"]) == 2
    assert "give --stack-name" in capsys.readouterr().err
