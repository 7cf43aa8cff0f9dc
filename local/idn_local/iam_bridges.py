"""Where moto 5's IAM checks differ from AWS, and what local mode does about each (pure functions).

moto checks an API call as `{signing name}:{operation}` against resource `*`, except for SQS, S3,
IAM and STS, which name their real resource. Left alone, that would make a correct template fail
locally (a statement scoped to a table's ARN never matches `*`) or check the wrong action. Each
bridge below has a unit test (tests/unit/test_iam_bridges.py):

- **Action names.** AWS authorizes `sqs:SendMessageBatch` (and the other `*Batch` SQS calls) with
  the base action; CloudWatch's signing name is `monitoring` but its IAM prefix is `cloudwatch`;
  moto names X-Ray calls after their URL path (`xray:TraceSegments`). `iam_action` maps each to
  the action AWS checks.
- **Resource targets.** For DynamoDB the tables named in the request (`TableName`, or every table
  of `RequestItems`/`TransactItems`) and for Secrets Manager the secret's ARN are the resources
  checked, as AWS does; `dynamodb_tables` and `SECRET_ACTIONS` say which.
- **Action-only checks.** Every other service (KMS, EventBridge, CloudWatch, X-Ray, Logs) is
  checked by action alone: a statement's Resource is not compared, since moto gives no resource to
  compare with. The README lists these; a wrong ARN there is not caught locally.
"""

from __future__ import annotations

from typing import Any

# Services whose calls moto (or these bridges) check against the real resource.
RESOURCE_SCOPED = frozenset({"sqs", "s3", "iam", "sts", "dynamodb", "secretsmanager"})

# Calls AWS authorizes with another action's permission.
ACTION_ALIASES = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "xray:TraceSegments": "xray:PutTraceSegments",
    "xray:TelemetryRecords": "xray:PutTelemetryRecords",
    "xray:SamplingRules": "xray:GetSamplingRules",
    "xray:SamplingTargets": "xray:GetSamplingTargets",
}
# Signing names that differ from the IAM service prefix.
SERVICE_PREFIXES = {"monitoring": "cloudwatch"}


def iam_action(moto_action: str) -> str:
    """The IAM action AWS checks for the call moto names `moto_action` (`service:Operation`)."""
    service, _, operation = moto_action.partition(":")
    action = f"{SERVICE_PREFIXES.get(service, service)}:{operation}"
    return ACTION_ALIASES.get(action, action)


def action_only(action: str) -> bool:
    """True when the action's resource cannot be checked locally (moto offers only `*`)."""
    return action.partition(":")[0] not in RESOURCE_SCOPED


def dynamodb_tables(body: dict[str, Any]) -> list[str]:
    """The tables a DynamoDB request touches, each checked as AWS does (batch: every table)."""
    if "TableName" in body:
        return [str(body["TableName"])]
    tables = list(body.get("RequestItems", {}))
    for item in body.get("TransactItems", []):
        for operation in item.values():
            if isinstance(operation, dict) and "TableName" in operation:
                tables.append(str(operation["TableName"]))
    return list(dict.fromkeys(tables))


def dynamodb_table_arn(table: str, account: str, region: str) -> str:
    return table if table.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{table}"


def secret_id(body: dict[str, Any]) -> str | None:
    """The secret a Secrets Manager request names (by name or ARN), if any."""
    value = body.get("SecretId")
    return str(value) if value else None
