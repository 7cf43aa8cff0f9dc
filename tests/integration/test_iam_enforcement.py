"""IAM enforced by moto's server with local mode's bridges (idn_local.iam): a function's role
credentials are checked against its policies, as AWS would check them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from idn_local import iam
from idn_local.iam_roles import FunctionRole

REGION = "us-east-1"
ACCOUNT = "123456789012"


def allow(actions: list[str], resource: str | list[str]) -> dict[str, Any]:
    return {"Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]}


@pytest.fixture
def world(aws: str) -> Iterator[dict[str, Any]]:
    """Two of each resource, and a role allowed on the first of each only."""
    ddb = boto3.client("dynamodb", endpoint_url=aws, region_name=REGION)
    for table in ("allowed-table", "other-table"):
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    secrets = boto3.client("secretsmanager", endpoint_url=aws, region_name=REGION)
    secret_arns = [secrets.create_secret(Name=n, SecretString="{}")["ARN"] for n in ("allowed", "other")]
    sqs = boto3.client("sqs", endpoint_url=aws, region_name=REGION)
    queue = sqs.create_queue(QueueName="allowed-queue")["QueueUrl"]
    role = FunctionRole(
        function="TestFunction",
        role="TestFunctionRole",
        policies={
            "ddb": allow(
                ["dynamodb:GetItem", "dynamodb:BatchGetItem"],
                f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/allowed-table",
            ),
            "secret": allow(["secretsmanager:GetSecretValue"], secret_arns[0]),
            "sqs": allow(["sqs:SendMessage"], f"arn:aws:sqs:{REGION}:{ACCOUNT}:allowed-queue"),
            "events": allow(["events:PutRule"], f"arn:aws:events:{REGION}:{ACCOUNT}:rule/scoped/*"),
        },
    )
    local_iam = iam.LocalIam(aws)
    identity = local_iam.create_roles({"TestFunction": role}, prefix="enforcement-test")["TestFunction"]
    try:
        yield {"identity": identity, "endpoint": aws, "secrets": secret_arns, "queue": queue}
    finally:
        local_iam.close()


def client(world: dict[str, Any], service: str) -> Any:
    return boto3.client(service, endpoint_url=world["endpoint"], region_name=REGION)  # type: ignore[call-overload]


def denied(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value)


def test_a_statement_scoped_to_a_table_allows_that_table_and_no_other(world: dict[str, Any]) -> None:
    ddb = client(world, "dynamodb")
    with iam.running_as(world["identity"]):
        ddb.get_item(TableName="allowed-table", Key={"id": {"S": "x"}})
        message = denied(lambda: ddb.get_item(TableName="other-table", Key={"id": {"S": "x"}}))

    assert "dynamodb:GetItem" in message and "other-table" in message


def test_a_batch_read_needs_the_grant_on_every_table_it_names(world: dict[str, Any]) -> None:
    ddb = client(world, "dynamodb")
    keys = {"Keys": [{"id": {"S": "x"}}]}
    with iam.running_as(world["identity"]):
        ddb.batch_get_item(RequestItems={"allowed-table": keys})
        message = denied(
            lambda: ddb.batch_get_item(RequestItems={"allowed-table": keys, "other-table": keys})
        )

    assert "dynamodb:BatchGetItem" in message


def test_a_secret_grant_covers_that_secret_only(world: dict[str, Any]) -> None:
    secrets = client(world, "secretsmanager")
    with iam.running_as(world["identity"]):
        secrets.get_secret_value(SecretId=world["secrets"][0])
        secrets.get_secret_value(SecretId="allowed")  # by name: the same secret
        message = denied(lambda: secrets.get_secret_value(SecretId=world["secrets"][1]))

    assert "secretsmanager:GetSecretValue" in message


def test_send_message_batch_is_authorized_by_send_message(world: dict[str, Any]) -> None:
    sqs = client(world, "sqs")
    with iam.running_as(world["identity"]):
        sqs.send_message_batch(QueueUrl=world["queue"], Entries=[{"Id": "1", "MessageBody": "{}"}])
        message = denied(
            lambda: sqs.delete_message_batch(
                QueueUrl=world["queue"], Entries=[{"Id": "1", "ReceiptHandle": "x"}]
            )
        )

    assert "sqs:DeleteMessage" in message


def test_a_service_moto_cannot_scope_is_checked_by_action(world: dict[str, Any]) -> None:
    events = client(world, "events")
    with iam.running_as(world["identity"]):
        events.put_rule(Name="any-rule", EventPattern='{"source": ["x"]}')
        message = denied(lambda: events.delete_rule(Name="any-rule"))

    assert "events:DeleteRule" in message


def test_outside_a_function_the_caller_is_the_admin(world: dict[str, Any]) -> None:
    client(world, "dynamodb").get_item(TableName="other-table", Key={"id": {"S": "x"}})


def test_a_thread_a_function_starts_keeps_its_role(world: dict[str, Any]) -> None:
    ddb = client(world, "dynamodb")
    errors: list[str] = []

    def read_other_table() -> None:
        try:
            ddb.get_item(TableName="other-table", Key={"id": {"S": "x"}})
        except ClientError as error:
            errors.append(str(error))

    with iam.running_as(world["identity"]):
        thread = threading.Thread(target=read_other_table)
        thread.start()
    thread.join()

    assert errors and "dynamodb:GetItem" in errors[0]


def test_a_denial_is_recorded_with_function_action_and_resource(world: dict[str, Any]) -> None:
    ddb = client(world, "dynamodb")
    with iam.running_as(world["identity"]):
        denied(lambda: ddb.get_item(TableName="other-table", Key={"id": {"S": "x"}}))

    assert iam.denials()[-1] == iam.Denial(
        "TestFunction", "dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/other-table"
    )
    assert (
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/allowed-table"
        in iam.used_actions()["TestFunction"]["dynamodb:GetItem"]
    )
