"""The bridges between moto's IAM checks and AWS's (idn_local.iam_bridges): one behaviour each."""

from __future__ import annotations

import pytest

from idn_local import iam_bridges


@pytest.mark.parametrize(
    ("moto_action", "aws_action"),
    [
        ("sqs:SendMessageBatch", "sqs:SendMessage"),
        ("sqs:DeleteMessageBatch", "sqs:DeleteMessage"),
        ("sqs:ChangeMessageVisibilityBatch", "sqs:ChangeMessageVisibility"),
        ("monitoring:PutMetricData", "cloudwatch:PutMetricData"),
        ("xray:TraceSegments", "xray:PutTraceSegments"),
        ("xray:TelemetryRecords", "xray:PutTelemetryRecords"),
    ],
)
def test_moto_action_names_become_the_action_aws_authorizes(moto_action: str, aws_action: str) -> None:
    assert iam_bridges.iam_action(moto_action) == aws_action


def test_actions_aws_and_moto_name_alike_are_kept() -> None:
    assert iam_bridges.iam_action("sqs:SendMessage") == "sqs:SendMessage"
    assert iam_bridges.iam_action("dynamodb:BatchGetItem") == "dynamodb:BatchGetItem"


@pytest.mark.parametrize(
    "action", ["kms:Decrypt", "events:PutRule", "cloudwatch:PutMetricData", "logs:PutLogEvents"]
)
def test_services_moto_cannot_scope_are_checked_by_action_only(action: str) -> None:
    assert iam_bridges.action_only(action)


@pytest.mark.parametrize(
    "action", ["sqs:SendMessage", "s3:PutObject", "dynamodb:GetItem", "secretsmanager:GetSecretValue"]
)
def test_services_with_a_resource_target_are_checked_against_it(action: str) -> None:
    assert not iam_bridges.action_only(action)


def test_a_dynamodb_item_call_targets_its_table() -> None:
    assert iam_bridges.dynamodb_tables({"TableName": "t1", "Key": {}}) == ["t1"]


def test_a_dynamodb_batch_targets_every_table_it_names() -> None:
    body = {"RequestItems": {"t1": {"Keys": []}, "t2": {"Keys": []}}}

    assert iam_bridges.dynamodb_tables(body) == ["t1", "t2"]


def test_a_dynamodb_transaction_targets_each_table_once() -> None:
    body = {"TransactItems": [{"Put": {"TableName": "t1"}}, {"Update": {"TableName": "t1"}}]}

    assert iam_bridges.dynamodb_tables(body) == ["t1"]


def test_a_table_name_becomes_the_arn_a_policy_names() -> None:
    arn = iam_bridges.dynamodb_table_arn("t1", "123456789012", "us-east-1")

    assert arn == "arn:aws:dynamodb:us-east-1:123456789012:table/t1"


def test_a_secrets_manager_call_targets_the_secret_it_names() -> None:
    assert iam_bridges.secret_id({"SecretId": "arn:aws:secretsmanager:r:1:secret:s-AbCdEf"}) == (
        "arn:aws:secretsmanager:r:1:secret:s-AbCdEf"
    )
    assert iam_bridges.secret_id({"Filters": []}) is None
