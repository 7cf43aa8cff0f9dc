"""Local mode reads template.yaml: functions, events, environment and resources come from there."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import boto3
import pytest
import requests

from idn_local.functions import load_functions
from idn_local.resources import LocalResources
from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from idn_local.stack import Stack, TemplateError
from tests.support import ROOT

TEMPLATE = textwrap.dedent("""
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Parameters:
      Greeting:
        Type: String
        Default: hello
        AllowedValues: [hello, bonjour]
      Mode:
        Type: String
      Open:
        Type: String
        Default: "false"
    Rules:
      OpenNeedsOptIn:
        RuleCondition: !Equals [!Ref Mode, open]
        Assertions:
          - Assert: !Equals [!Ref Open, "true"]
            AssertDescription: open mode needs Open=true
    Conditions:
      IsBonjour: !Equals [!Ref Greeting, bonjour]
    Globals:
      Function:
        Runtime: python3.13
        Environment:
          Variables:
            SHARED: !Sub "${AWS::Region}-${Greeting}"
    Resources:
      Secret:
        Type: AWS::SecretsManager::Secret
        Properties:
          GenerateSecretString:
            SecretStringTemplate: '{"user": "u"}'
            GenerateStringKey: password
            PasswordLength: 20
      Work:
        Type: AWS::SQS::Queue
        Properties:
          VisibilityTimeout: 30
      Echo:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: echo/
          Handler: app.handler
          Environment:
            Variables:
              SECRET_ID: !Ref Secret
              QUEUE_ARN: !GetAtt Work.Arn
              WORD: !If [IsBonjour, salut, hi]
          Policies:  # local mode enforces the role: without it the secret read is refused
            - AWSSecretsManagerGetSecretValuePolicy:
                SecretArn: !Ref Secret
          Events:
            Get:
              Type: Api
              Properties:
                Path: /echo/{name}
                Method: get
""")

APP = textwrap.dedent("""
    import json, os
    import boto3

    def handler(event, context):
        secret = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["SECRET_ID"])["SecretString"])
        body = {"name": event["pathParameters"]["name"], "word": os.environ["WORD"], "shared": os.environ["SHARED"],
                "queue": os.environ["QUEUE_ARN"].rsplit(":", 1)[-1] != "", "secret_keys": sorted(secret)}
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
""")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "app.py").write_text(APP)
    return tmp_path / "template.yaml"


def test_a_new_function_is_served_from_the_template_alone(project: Path) -> None:
    options = LocalOptions(
        port=0,
        template=project,
        auth=InboundAuth.parse("none"),
        parameter_overrides={"Mode": "closed", "Greeting": "bonjour"},
    )
    with LocalRunner(options) as runner:
        response = requests.get(f"{runner.api_url}/echo/world", timeout=5)
        assert response.status_code == 200
        assert response.json() == {
            "name": "world",
            "word": "salut",
            "shared": "us-east-1-bonjour",
            "queue": True,
            "secret_keys": ["password", "user"],
        }
        assert requests.get(f"{runner.api_url}/nowhere", timeout=5).status_code == 403


def test_rules_are_enforced_like_cloudformation(project: Path) -> None:
    with pytest.raises(TemplateError, match="open mode needs Open=true"):
        Stack(project, {"Mode": "open"})
    Stack(project, {"Mode": "open", "Open": "true"})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "without a value: Mode"),
        ({"Mode": "x", "Greeting": "hola"}, "is not one of"),
        ({"Mode": "x", "Nope": "1"}, "unknown parameter"),
    ],
)
def test_bad_parameters_are_refused_by_name(project: Path, overrides: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        Stack(project, overrides)


def test_resources_get_stack_scoped_names_and_resolvable_attributes(project: Path, aws: str) -> None:
    stack = Stack(project, {"Mode": "x"}, stack_name="unit-stack")
    LocalResources(stack, aws).provision()
    assert (
        stack.resolve({"Fn::GetAtt": ["Work", "Arn"]}) == "arn:aws:sqs:us-east-1:123456789012:unit-stack-Work"
    )
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=stack.resolve({"Ref": "Secret"}))
    assert set(json.loads(secret["SecretString"])) == {"user", "password"}
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=stack.resolve({"Ref": "Work"}), AttributeNames=["VisibilityTimeout"]
    )
    assert attributes["Attributes"]["VisibilityTimeout"] == "30"


OTHER_FUNCTION = """
  Other:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: app.handler
      Environment:
        Variables:
          WORD: something else
"""


def test_conflicting_environments_are_refused(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(TEMPLATE + OTHER_FUNCTION)
    stack = Stack(tmp_path / "template.yaml", {"Mode": "x"})
    stack.physical_ids.update({"Secret": "s"})
    stack.attributes[("Work", "Arn")] = "arn"
    with pytest.raises(TemplateError, match="set WORD to different values"):
        load_functions(stack, {})


def test_the_project_template_runs_locally() -> None:
    stack = Stack(
        ROOT / "template.yaml",
        {"TenantApiUrl": "http://127.0.0.1:1", "SailPointClientId": "c", "SailPointClientSecret": "s"},
    )
    names = {spec.name for spec in stack.functions()}
    assert {"ReceiverFunction", "WorkerFunction"} <= names
