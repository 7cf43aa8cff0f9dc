"""What moto's EventBridge does on SailPoint's path, checked over HTTP (local mode relies on it).

moto delivers `PutEvents` through a matching rule to an SQS target by itself; partner buses need the
two bridges of `idn_local.moto_bridges` (bus names with `/`, a missing source's error).
"""

from __future__ import annotations

import json

import boto3
import pytest

from idn_local import moto_bridges
from idn_triggers.eventbridge import partner_source_name

ACCOUNT = "123456789012"
PATTERN = {"source": [{"prefix": "aws.partner/sailpoint.com/"}], "detail-type": ["idn:identity-created"]}


def route(events: object, sqs: object, bus: str) -> str:
    queue = sqs.create_queue(QueueName="eb-target")["QueueUrl"]  # type: ignore[attr-defined]
    events.put_rule(Name="r", EventBusName=bus, EventPattern=json.dumps(PATTERN))  # type: ignore[attr-defined]
    events.put_targets(  # type: ignore[attr-defined]
        Rule="r", EventBusName=bus, Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:eb-target"}]
    )
    return str(queue)


def put(events: object, bus: str, source: str, detail_type: str) -> None:
    answer = events.put_events(  # type: ignore[attr-defined]
        Entries=[{"Source": source, "DetailType": detail_type, "Detail": '{"a": 1}', "EventBusName": bus}]
    )
    assert answer["FailedEntryCount"] == 0


def test_moto_delivers_put_events_through_a_rule_to_an_sqs_queue(aws: str) -> None:
    # Given a plain custom bus with a rule to a queue (no bridge involved)
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name="plain")
    queue = route(events, sqs, "plain")
    # When a matching and a non-matching event are put
    put(events, "plain", "aws.partner/sailpoint.com/x/idn/identity-created", "idn:identity-created")
    put(events, "plain", "aws.partner/sailpoint.com/x/idn/identity-created", "idn:other")
    # Then exactly the matching one is in the queue, as an EventBridge envelope
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    assert [json.loads(m["Body"])["detail-type"] for m in messages] == ["idn:identity-created"]
    assert json.loads(messages[0]["Body"])["detail"] == {"a": 1}


def test_a_partner_bus_works_end_to_end_with_the_bridges(aws: str) -> None:
    moto_bridges.apply()
    events, sqs = boto3.client("events"), boto3.client("sqs")
    source = partner_source_name("54d68478-7e9b-46f5-ae82-89a5055df5f2", "idn:identity-created")
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_event_source(Name=source)  # bridged: moto answered 500
    events.create_partner_event_source(Name=source, Account=ACCOUNT)
    assert events.describe_event_source(Name=source)["State"] == "ACTIVE"  # AWS: PENDING until associated
    events.create_event_bus(Name=source, EventSourceName=source)
    queue = route(events, sqs, source)  # bridged: moto looked up the bus by its last "/" segment
    put(events, source, source, "idn:identity-created")
    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    assert json.loads(messages[0]["Body"])["source"] == source
