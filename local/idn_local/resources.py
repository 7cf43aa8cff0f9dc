"""Provision the template's AWS resources in moto's server, as CloudFormation would.

Only resource types the functions talk to are created (secrets, queues, tables, buckets); the rest
(API, layers, log groups, alarms) need no emulation and get a stable local id so references resolve.
A resource whose Condition is false is not created, as CloudFormation would not.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, overload

from idn_local.stack import ACCOUNT_ID, REGION, Stack, UnresolvedReference

if TYPE_CHECKING:  # boto3-stubs: a dev dependency, for the type checker only
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType


@overload
def _boto(service: Literal["secretsmanager"], endpoint: str) -> SecretsManagerClient: ...
@overload
def _boto(service: Literal["sqs"], endpoint: str) -> SQSClient: ...
@overload
def _boto(service: Literal["dynamodb"], endpoint: str) -> DynamoDBClient: ...
@overload
def _boto(service: Literal["s3"], endpoint: str) -> S3Client: ...
def _boto(
    service: Literal["secretsmanager", "sqs", "dynamodb", "s3"], endpoint: str
) -> SecretsManagerClient | SQSClient | DynamoDBClient | S3Client:
    """A client of moto's server for a service the template's resources live in."""
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name=REGION)


def _generated_secret(spec: dict[str, Any]) -> str:
    """GenerateSecretString: a random value under GenerateStringKey, merged into the template."""
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    value = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    if "GenerateStringKey" not in spec:
        return value
    document = json.loads(spec.get("SecretStringTemplate") or "{}")
    document[spec["GenerateStringKey"]] = value
    return json.dumps(document)


# The AWS::SQS::Queue properties that are queue attributes of the same name.
QUEUE_ATTRIBUTES: tuple[QueueAttributeNameType, ...] = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "RedrivePolicy",
    "ReceiveMessageWaitTimeSeconds",
    "MaximumMessageSize",
)


def _attribute_text(value: Any) -> str:
    """A queue attribute as SQS takes it: JSON for a document (RedrivePolicy), text otherwise."""
    return json.dumps(value) if isinstance(value, dict) else str(value)


class LocalResources:
    """Creates resources in dependency order and records their physical ids and attributes."""

    def __init__(self, stack: Stack, endpoint: str) -> None:
        self.stack = stack
        self.endpoint = endpoint
        self.created: list[tuple[str, str]] = []

    def provision(self) -> None:
        creators: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::SQS::Queue": self._queue,
            "AWS::DynamoDB::Table": self._table,
            "AWS::S3::Bucket": self._bucket,
            "AWS::S3::BucketPolicy": self._bucket_policy,
            "Custom::SailPointPartnerEventBuses": self._partner_buses,
        }
        pending = dict(self.stack.resources)  # only those whose Condition holds, as in CloudFormation
        for _ in range(len(pending) + 1):  # resolve references by retrying until nothing changes
            progressed = False
            for name, resource in list(pending.items()):
                creator = creators.get(resource["Type"])
                try:
                    if creator is None:
                        self.stack.physical_ids[name] = f"local-{name}"
                        if (
                            resource["Type"] == "AWS::Serverless::Function"
                        ):  # a custom resource's ServiceToken
                            arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
                            self.stack.attributes.setdefault((name, "Arn"), arn)
                    else:
                        creator(name, self.stack.resolve(resource.get("Properties", {})))
                        self.created.append((resource["Type"], name))
                except UnresolvedReference:
                    continue
                del pending[name]
                progressed = True
            if not pending or not progressed:
                break
        if pending:
            raise UnresolvedReference(f"cannot provision {', '.join(pending)}: unresolved references")

    def _secret(self, name: str, properties: dict[str, Any]) -> None:
        value = properties.get("SecretString") or _generated_secret(
            properties.get("GenerateSecretString", {})
        )
        secret_name = properties.get("Name", self.stack.physical_name(name))
        arn = _boto("secretsmanager", self.endpoint).create_secret(Name=secret_name, SecretString=value)[
            "ARN"
        ]
        self.stack.physical_ids[name] = arn
        self.stack.attributes[(name, "Id")] = arn

    def _queue(self, name: str, properties: dict[str, Any]) -> None:
        attributes = {key: _attribute_text(properties[key]) for key in QUEUE_ATTRIBUTES if key in properties}
        queue_name = properties.get("QueueName", self.stack.physical_name(name))
        url = _boto("sqs", self.endpoint).create_queue(QueueName=queue_name, Attributes=attributes)[
            "QueueUrl"
        ]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue_name}"
        self.stack.physical_ids[name] = url
        self.stack.attributes.update(
            {(name, "Arn"): arn, (name, "QueueName"): queue_name, (name, "QueueUrl"): url}
        )

    def _table(self, name: str, properties: dict[str, Any]) -> None:
        client = _boto("dynamodb", self.endpoint)
        table_name = properties.get("TableName", self.stack.physical_name(name))
        client.create_table(
            TableName=table_name,
            KeySchema=properties["KeySchema"],
            AttributeDefinitions=properties["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            client.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
        self.stack.physical_ids[name] = table_name
        self.stack.attributes[(name, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table_name}"

    def _bucket(self, name: str, properties: dict[str, Any]) -> None:
        """A bucket with the template's encryption, public access block and lifecycle (moto keeps them)."""
        client = _boto("s3", self.endpoint)
        bucket = properties.get("BucketName", self.stack.physical_name(name).lower())  # S3 names: lowercase
        client.create_bucket(Bucket=bucket)
        if "BucketEncryption" in properties:
            rules = [  # CloudFormation's ServerSideEncryptionByDefault is the API's Apply... of the same shape
                {
                    ("Apply" + key if key == "ServerSideEncryptionByDefault" else key): value
                    for key, value in rule.items()
                }
                for rule in _without_none(properties["BucketEncryption"])["ServerSideEncryptionConfiguration"]
            ]
            encryption: Any = {"Rules": rules}  # the template's own document, checked by S3 (moto)
            client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=encryption)
        if "PublicAccessBlockConfiguration" in properties:
            client.put_public_access_block(
                Bucket=bucket, PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"]
            )
        lifecycle = properties.get("LifecycleConfiguration", {}).get("Rules", [])
        if lifecycle:
            converted: Any = {"Rules": [_lifecycle_rule(rule) for rule in lifecycle]}
            client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=converted)
        self.stack.physical_ids[name] = bucket
        self.stack.attributes.update({(name, "Arn"): f"arn:aws:s3:::{bucket}", (name, "BucketName"): bucket})

    def _bucket_policy(self, name: str, properties: dict[str, Any]) -> None:
        """The bucket policy minus its TLS-only statements: moto enforces them, and local mode speaks
        plain HTTP to moto, so they would refuse every request (tests/integration/test_archive.py
        shows the template's policy refusing plain HTTP)."""
        document = dict(properties["PolicyDocument"])
        document["Statement"] = [s for s in document["Statement"] if not _requires_tls(s)]
        if document["Statement"]:
            _boto("s3", self.endpoint).put_bucket_policy(
                Bucket=properties["Bucket"], Policy=json.dumps(document)
            )
        self.stack.physical_ids[name] = f"local-{name}"

    def _partner_buses(self, name: str, properties: dict[str, Any]) -> None:
        """The partner-buses custom resource, run as its function would: the same `PartnerBuses`
        calls against moto (which has partner sources, buses and rules delivering to SQS). A listed
        source that does not exist yet is created first, as SailPoint would have in AWS."""
        from idn_triggers.event_buses import PartnerBuses, Route, rule_name

        buses = PartnerBuses(events_client(self.endpoint))
        enabled = tuple(
            t.strip() for t in str(properties.get("EnabledTriggers", "*")).split(",") if t.strip()
        )
        route = Route(
            work_queue_arn=str(properties["WorkQueueArn"]),
            dead_letter_queue_arn=str(properties["EventsDeadLetterQueueArn"]),
            rule_name=rule_name(str(properties.get("Owner", ""))),
            enabled_triggers=enabled or ("*",),
        )
        for source in (s.strip() for s in str(properties.get("SourceNames", "")).split(",")):
            if not source:
                continue
            if buses.source_state(source) is None:  # SailPoint's part: no tenant made it locally
                buses.events.create_partner_event_source(Name=source, Account=ACCOUNT_ID)
            buses.associate(source, route)
        self.stack.physical_ids[name] = f"partner-buses:{properties.get('Owner', '')}"


def _requires_tls(statement: dict[str, Any]) -> bool:
    return bool(
        statement.get("Effect") == "Deny"
        and str(statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
    )


def _without_none(value: Any) -> Any:
    """A resolved document minus `AWS::NoValue` (None) entries, as CloudFormation drops them."""
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value if item is not None]
    return value


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the S3 API's shape."""
    converted: dict[str, Any] = {
        "ID": rule.get("Id", "rule"),
        "Status": rule["Status"],
        "Filter": {"Prefix": ""},
    }
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        converted["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    return converted


def events_client(endpoint: str) -> Any:
    """An EventBridge client of moto's server."""
    import boto3

    return boto3.client("events", endpoint_url=endpoint, region_name=REGION)
