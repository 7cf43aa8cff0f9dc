"""template.yaml: the infrastructure invariants, checked on the parsed template, plus the linters."""

from __future__ import annotations

import ast
import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from tests.support import ROOT

TEMPLATE: dict[str, Any] = cfn_yaml.load(str(ROOT / "template.yaml"))
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
GLOBALS: dict[str, Any] = TEMPLATE["Globals"]["Function"]
FUNCTIONS = {name: r for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
LAMBDA_PYTHON_RUNTIMES = {"python3.12", "python3.13"}  # what this project's code and venv support
# The settings model of each function; handler templates' settings models apply to every function
# that runs handlers (both do).
SETTINGS_MODELS = {
    "ReceiverFunction": "idn_triggers.settings:ReceiverSettings",
    "WorkerFunction": "idn_triggers.settings:WorkerSettings",
    "TokenRefresherFunction": "idn_triggers.settings:TokenRefresherSettings",
    "CredentialRotatorFunction": "idn_triggers.settings:RotatorSettings",
    "SubscriptionsFunction": "idn_triggers.settings:SubscriptionsSettings",
}
HANDLER_RUNNERS = {"ReceiverFunction", "WorkerFunction"}  # functions that import trigger_handlers
RUNTIME_VARIABLES = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_LOGGER_LOG_EVENT",
}


def resource_of_type(kind: str) -> dict[str, Any]:
    matches = [r for r in RESOURCES.values() if r["Type"] == kind]
    assert len(matches) == 1, kind
    return matches[0]


def test_runtime_is_a_real_python_runtime_the_layers_support() -> None:
    runtime = GLOBALS["Runtime"]
    assert runtime in LAMBDA_PYTHON_RUNTIMES
    for function in FUNCTIONS.values():
        assert function["Properties"].get("Runtime", runtime) == runtime
    for layer in (r for r in RESOURCES.values() if r["Type"] == "AWS::Serverless::LayerVersion"):
        assert runtime in layer["Properties"]["CompatibleRuntimes"]


def test_local_python_matches_the_runtime() -> None:
    # sam build without containers needs the runtime's python; the venv is made from the same one.
    assert f"python{sys.version_info.major}.{sys.version_info.minor}" in LAMBDA_PYTHON_RUNTIMES


def test_layers_are_built_by_sam_and_attached_to_every_function() -> None:
    layers = {n: r for n, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::LayerVersion"}
    assert set(layers) == {"LibraryLayer", "HandlersLayer"}
    for layer in layers.values():
        assert layer["Metadata"]["BuildMethod"] in {"makefile", GLOBALS["Runtime"]}
        assert (ROOT / layer["Properties"]["ContentUri"]).is_dir()
    assert GLOBALS["Layers"] == [{"Ref": "LibraryLayer"}, {"Ref": "HandlersLayer"}]
    makefile = ROOT / RESOURCES["LibraryLayer"]["Properties"]["ContentUri"] / "Makefile"
    assert "build-LibraryLayer:" in makefile.read_text()


def test_regional_rest_api_routes_post_triggers_to_the_receiver() -> None:
    api = resource_of_type("AWS::Serverless::Api")["Properties"]
    assert api["EndpointConfiguration"]["Type"] == "REGIONAL"
    assert api["TracingEnabled"] is True
    assert all("ThrottlingRateLimit" in s and "ThrottlingBurstLimit" in s for s in api["MethodSettings"])
    events = FUNCTIONS["ReceiverFunction"]["Properties"]["Events"]
    assert [(e["Type"], e["Properties"]["Path"], e["Properties"]["Method"]) for e in events.values()] == [
        ("Api", "/triggers/{triggerId}", "post")
    ]


def test_function_code_and_handlers_exist() -> None:
    for function in FUNCTIONS.values():
        properties = function["Properties"]
        module, _, attribute = properties["Handler"].partition(".")
        source = ROOT / properties["CodeUri"] / f"{module}.py"
        tree = ast.parse(source.read_text())
        defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        defined |= {
            t.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        assert attribute in defined


def test_globals_set_tracing_and_powertools() -> None:
    assert GLOBALS["Tracing"] == "Active"
    variables = GLOBALS["Environment"]["Variables"]
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"} <= set(
        variables
    )
    assert variables["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"  # events carry credentials and PII


def test_inbound_auth_defaults_to_bearer_and_no_auth_needs_explicit_opt_in() -> None:
    parameters = TEMPLATE["Parameters"]
    assert parameters["InboundAuthType"]["Default"] == "BEARER_TOKEN"
    assert set(parameters["InboundAuthType"]["AllowedValues"]) == {"BEARER_TOKEN", "BASIC_AUTH", "NO_AUTH"}
    assert parameters["AllowUnauthenticated"]["Default"] == "false"
    rule = TEMPLATE["Rules"]["UnauthenticatedNeedsExplicitOptIn"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "InboundAuthType"}, "NO_AUTH"]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "AllowUnauthenticated"}, "true"]}


def test_inbound_credential_lives_in_a_generated_secret() -> None:
    secret = RESOURCES["InboundCredentialSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert "GenerateSecretString" in secret["Properties"]
    variables = FUNCTIONS["ReceiverFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["INBOUND_SECRET_ID"] == {"Ref": "InboundCredentialSecret"}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_logs_to_a_group_with_retention(name: str) -> None:
    group_ref = FUNCTIONS[name]["Properties"]["LoggingConfig"]["LogGroup"]
    group = RESOURCES[group_ref["Ref"]]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def _statements(policy: Any) -> list[dict[str, Any]]:
    if isinstance(policy, dict) and "Statement" in policy:
        return list(policy["Statement"])
    return []


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_policies_are_least_privilege(name: str) -> None:
    policies = FUNCTIONS[name]["Properties"].get("Policies", [])
    assert not isinstance(policies, str), "managed policy names grant too much"
    for policy in policies:
        assert not isinstance(policy, str), f"{name}: managed policy {policy}"
        for statement in _statements(policy):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all("*" not in action for action in actions), f"{name}: wildcard action"
            assert statement.get("Resource") != "*", f"{name}: wildcard resource"
        for template_name, arguments in policy.items() if "Statement" not in policy else []:
            # SAM policy templates must be scoped to a resource of this stack
            assert template_name.endswith("Policy") and arguments, f"{name}: unscoped {template_name}"
            assert all(isinstance(v, dict) and ("Ref" in v or "Fn::GetAtt" in v) for v in arguments.values())


def _aliases(model: type[Any]) -> set[str]:
    return {field.alias for field in model.model_fields.values() if field.alias}


def _handler_settings_aliases() -> set[str]:
    import trigger_handlers
    from idn_triggers.settings import EnvSettings

    aliases: set[str] = set()
    for found in pkgutil.iter_modules(trigger_handlers.__path__, "trigger_handlers."):
        module = importlib.import_module(found.name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, EnvSettings) and value is not EnvSettings:
                aliases |= _aliases(value)
    return aliases


@pytest.mark.parametrize("name", sorted(SETTINGS_MODELS))
def test_every_environment_variable_is_read_by_a_settings_model(name: str) -> None:
    module, _, attribute = SETTINGS_MODELS[name].partition(":")
    readers = _aliases(getattr(importlib.import_module(module), attribute))
    if name in HANDLER_RUNNERS:
        readers |= _handler_settings_aliases()
    variables = set(GLOBALS["Environment"]["Variables"]) | set(
        FUNCTIONS[name]["Properties"]["Environment"]["Variables"]
    )
    unread = variables - readers - RUNTIME_VARIABLES
    assert not unread, f"set but never read: {unread}"


@pytest.mark.parametrize("name", sorted(SETTINGS_MODELS))
def test_every_required_setting_is_provided(name: str) -> None:
    module, _, attribute = SETTINGS_MODELS[name].partition(":")
    model = getattr(importlib.import_module(module), attribute)
    required = {field.alias for field in model.model_fields.values() if field.is_required()}
    variables = set(GLOBALS["Environment"]["Variables"]) | set(
        FUNCTIONS[name]["Properties"]["Environment"]["Variables"]
    )
    assert required <= variables, f"missing: {required - variables}"


def test_worker_reads_the_queue_with_partial_batch_failures() -> None:
    [event] = FUNCTIONS["WorkerFunction"]["Properties"]["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["WorkQueue", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["BatchSize"] == {"Ref": "WorkerBatchSize"}
    assert event["Properties"]["MaximumBatchingWindowInSeconds"] == {"Ref": "WorkerBatchingWindowSeconds"}
    assert (
        TEMPLATE["Parameters"]["WorkerBatchingWindowSeconds"]["Default"] >= 1
    )  # Lambda's rule for batches > 10


def test_visibility_timeout_is_at_least_six_times_the_worker_timeout() -> None:
    timeout = FUNCTIONS["WorkerFunction"]["Properties"].get("Timeout", GLOBALS["Timeout"])
    assert RESOURCES["WorkQueue"]["Properties"]["VisibilityTimeout"] >= 6 * timeout


def test_failures_end_in_an_encrypted_dead_letter_queue_kept_14_days() -> None:
    queue, dlq = RESOURCES["WorkQueue"]["Properties"], RESOURCES["DeadLetterQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert queue["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    assert TEMPLATE["Parameters"]["MaxReceiveCount"]["MaxValue"] <= 10
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["SqsManagedSseEnabled"] is True and dlq["SqsManagedSseEnabled"] is True  # secrets at rest
    worker_env = FUNCTIONS["WorkerFunction"]["Properties"]["Environment"]["Variables"]
    assert worker_env["MAX_RECEIVE_COUNT"] == {"Ref": "MaxReceiveCount"}  # the worker knows its last attempt


def test_alarms_watch_the_dead_letter_queue_and_message_age() -> None:
    alarms = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    dimension = [a["Dimensions"][0]["Value"] for a in alarms]
    watched = {
        (a["MetricName"], d.get("Ref") or d["Fn::GetAtt"][0])
        for a, d in zip(alarms, dimension, strict=True)
        if isinstance(d, dict)
    }
    assert ("ApproximateNumberOfMessagesVisible", "DeadLetterQueue") in watched
    assert ("ApproximateAgeOfOldestMessage", "WorkQueue") in watched
    assert ("Errors", "TokenRefresherFunction") in watched


def test_an_alarm_fires_when_p99_acknowledgement_latency_nears_the_10_second_budget() -> None:
    alarm = RESOURCES["AcknowledgementLatencyAlarm"]["Properties"]
    receiver = (ROOT / "functions/receiver/app.py").read_text()

    assert (alarm["MetricName"], alarm["ExtendedStatistic"]) == ("AcknowledgementLatency", "p99")
    assert alarm["Dimensions"] == [{"Name": "Scope", "Value": "AllTriggers"}]
    assert 5000 <= alarm["Threshold"] < 10000
    assert '"AcknowledgementLatency"' in receiver and '"Scope", "AllTriggers"' in receiver


def test_the_dashboard_shows_what_the_issue_asks_per_trigger_and_mode() -> None:
    body, values = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for name in ["AWS::Region", *values]:
        body = body.replace("${" + name + "}", "x")
    widgets = json.loads(body)["widgets"]
    text = json.dumps(widgets)

    for metric in (
        "Acknowledgements",
        'StatusClass=\\"4xx',
        'StatusClass=\\"5xx',
        "AcknowledgementLatency",
        "ApproximateAgeOfOldestMessage",
        "ApproximateNumberOfMessagesVisible",
        "WorkerRecords",
        "StoredTokenAgeSeconds",
    ):
        assert metric in text, metric
    assert values["LatencyAlarmArn"] == {"Fn::GetAtt": ["AcknowledgementLatencyAlarm", "Arn"]}


def test_idempotency_table_has_ttl_and_the_powertools_key() -> None:
    table = RESOURCES["IdempotencyTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"


def test_receiver_may_only_send_to_the_work_queue() -> None:
    policies = FUNCTIONS["ReceiverFunction"]["Properties"]["Policies"]
    sends = [p["SQSSendMessagePolicy"]["QueueName"] for p in policies if "SQSSendMessagePolicy" in p]
    assert sends == [{"Fn::GetAtt": ["WorkQueue", "QueueName"]}]


def test_the_token_refresher_runs_well_inside_the_token_lifetime_and_fails_loudly() -> None:
    [event] = FUNCTIONS["TokenRefresherFunction"]["Properties"]["Events"].values()
    assert event["Type"] == "Schedule"
    assert event["Properties"]["Schedule"] == {"Fn::Sub": "rate(${TokenRefreshMinutes} minutes)"}
    # 749 s is SailPoint's default token lifetime; the stored token must outlive two periods plus the margin
    assert max(TEMPLATE["Parameters"]["TokenRefreshMinutes"]["AllowedValues"]) * 60 * 2 + 120 <= 749
    assert event["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert event["Properties"]["DeadLetterConfig"]["Type"] == "SQS"


def test_only_the_refresher_writes_the_token_and_only_there() -> None:
    writers = []
    for name, function in FUNCTIONS.items():
        for policy in function["Properties"].get("Policies", []):
            for statement in _statements(policy):
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                if "secretsmanager:PutSecretValue" in actions:
                    writers.append((name, statement["Resource"]))
    assert sorted(writers) == [
        ("CredentialRotatorFunction", {"Ref": "InboundCredentialSecret"}),
        ("TokenRefresherFunction", {"Ref": "AccessTokenSecret"}),
    ]


def test_the_inbound_credential_rotates_on_a_schedule_through_the_rotator() -> None:
    rotation = RESOURCES["InboundCredentialRotation"]
    assert rotation["Type"] == "AWS::SecretsManager::RotationSchedule"
    assert rotation["Condition"] == "HasInboundCredential"
    assert rotation["Properties"]["RotationLambdaARN"] == {"Fn::GetAtt": ["CredentialRotatorFunction", "Arn"]}
    assert rotation["Properties"]["RotationRules"]["ScheduleExpression"] == {
        "Fn::Sub": "rate(${InboundCredentialRotationDays} days)"
    }
    permission = RESOURCES["CredentialRotatorPermission"]["Properties"]
    assert permission["Principal"] == "secretsmanager.amazonaws.com" and "SourceAccount" in permission
    rotator = FUNCTIONS["CredentialRotatorFunction"]["Properties"]
    assert rotator["Environment"]["Variables"]["INBOUND_SECRET_MAX_AGE"] == {
        "Ref": "InboundSecretCacheSeconds"
    }
    receiver = FUNCTIONS["ReceiverFunction"]["Properties"]["Environment"]["Variables"]
    assert receiver["INBOUND_SECRET_MAX_AGE"] == {
        "Ref": "InboundSecretCacheSeconds"
    }  # the rotator waits for it
    assert rotator["Timeout"] >= TEMPLATE["Parameters"]["InboundSecretCacheSeconds"]["MaxValue"] // 2


def test_subscriptions_are_a_custom_resource_driven_by_parameters() -> None:
    resource = RESOURCES["Subscriptions"]
    assert resource["Type"].startswith("Custom::") and resource["Condition"] == "HasSubscriptions"
    properties = resource["Properties"]
    assert properties["ServiceToken"] == {"Fn::GetAtt": ["SubscriptionsFunction", "Arn"]}
    assert properties["TriggerIds"] == {"Ref": "SubscribeTriggers"}
    assert properties["ResponseDeadline"] == {"Ref": "ResponseDeadline"}  # the worker's deadline too
    assert "ReceiverFunction" in resource["DependsOn"]  # subscribe only once the receiver exists
    assert TEMPLATE["Parameters"]["SubscribeTriggers"]["Default"] == ""  # opt-in


def test_client_credentials_are_no_echo_and_only_in_a_secret() -> None:
    for name in ("SailPointClientId", "SailPointClientSecret"):
        assert TEMPLATE["Parameters"][name]["NoEcho"] is True
    worker_env = FUNCTIONS["WorkerFunction"]["Properties"]["Environment"]["Variables"]
    assert worker_env["SAILPOINT_CLIENT_SECRET_ID"] == {"Ref": "SailPointClientCredentials"}
    assert not any("SailPointClientSecret" in str(v) for v in GLOBALS["Environment"]["Variables"].values())


def test_outputs_give_the_webhook_url_and_secret() -> None:
    condition, custom, url = TEMPLATE["Outputs"]["WebhookBaseUrl"]["Value"]["Fn::If"]
    assert (condition, custom) == ("HasPublicWebhookBaseUrl", {"Ref": "PublicWebhookBaseUrl"})
    url = url["Fn::Sub"]
    assert url.startswith("https://${TriggersApi}.execute-api.") and url.endswith("/triggers/")
    assert "InboundCredentialSecretArn" in TEMPLATE["Outputs"]


def _tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def test_cfn_lint_passes() -> None:
    result = subprocess.run(
        [_tool("cfn-lint"), str(ROOT / "template.yaml")], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_passes_offline() -> None:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [_tool("sam"), "validate", "--lint", "--template", str(ROOT / "template.yaml")],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
