"""template.yaml: the infrastructure invariants, checked on the parsed template, plus the linters."""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from tests.support import ROOT, condition

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
    "ReconcilerFunction": "idn_triggers.settings:ReconcilerSettings",
}
HANDLER_RUNNERS = {"ReceiverFunction", "WorkerFunction"}  # functions that import trigger_handlers
RUNTIME_VARIABLES = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_LOGGER_LOG_EVENT",
    "PYDANTIC_DISABLE_PLUGINS",  # read by pydantic: no plugin scan at cold start
}
# Handed to the user's handlers, whether or not their handlers read them (the shipped templates'
# parameters, and the name of the handlers' settings file, read by idn_triggers.settings.HandlerSettings):
# the product's tests must not depend on what the handlers in layers/trigger_handlers read.
HANDLER_VARIABLES = {
    "PREAPPROVAL_DENIED_ITEMS",
    "PREAPPROVAL_REVIEW_ITEMS",
    "PREAPPROVAL_APPROVER",
    "DYNAMIC_APPROVER_RULES",
    "HANDLER_SETTINGS",
}


NO_VALUE = {"Ref": "AWS::NoValue"}
SCHEDULED = (
    "TokenRefresherFunction",
    "CredentialRotatorFunction",
    "SubscriptionsFunction",
    "ReconcilerFunction",
)


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


def _branches(policy: Any) -> list[Any]:
    """A policy, or both branches of an `Fn::If` policy (AWS::NoValue dropped)."""
    if isinstance(policy, dict) and set(policy) == {"Fn::If"}:
        _, *branches = policy["Fn::If"]
        return [b for branch in branches for b in _branches(branch) if b != {"Ref": "AWS::NoValue"}]
    return [policy]


def _statements(policy: Any) -> list[dict[str, Any]]:
    if isinstance(policy, dict) and "Statement" in policy:
        return list(policy["Statement"])
    return []


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_policies_are_least_privilege(name: str) -> None:
    policies = FUNCTIONS[name]["Properties"].get("Policies", [])
    assert not isinstance(policies, str), "managed policy names grant too much"
    for policy in (branch for p in policies for branch in _branches(p)):
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


@pytest.mark.parametrize("name", sorted(SETTINGS_MODELS))
def test_every_environment_variable_is_read_by_a_settings_model(name: str) -> None:
    module, _, attribute = SETTINGS_MODELS[name].partition(":")
    readers = _aliases(getattr(importlib.import_module(module), attribute))
    if name in HANDLER_RUNNERS:
        readers |= HANDLER_VARIABLES
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
    for properties in (queue, dlq):  # secrets at rest: SQS-managed keys, or the customer's key when given
        assert properties["SqsManagedSseEnabled"] == {"Fn::If": ["HasKmsKey", {"Ref": "AWS::NoValue"}, True]}
        assert properties["KmsMasterKeyId"] == {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, NO_VALUE]}
    worker_env = FUNCTIONS["WorkerFunction"]["Properties"]["Environment"]["Variables"]
    assert worker_env["MAX_RECEIVE_COUNT"] == {"Ref": "MaxReceiveCount"}  # the worker knows its last attempt


def test_alarms_watch_the_dead_letter_queue_and_message_age() -> None:
    alarms = [
        r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and isinstance(r["Properties"].get("Dimensions", [{}])[0].get("Value"), dict)  # on a stack resource
    ]
    dimension = [a["Dimensions"][0]["Value"] for a in alarms]
    watched = {
        (a["MetricName"], d.get("Ref") or d["Fn::GetAtt"][0])
        for a, d in zip(alarms, dimension, strict=True)
        if isinstance(d, dict) and ("Ref" in d or "Fn::GetAtt" in d)
    }
    assert ("ApproximateNumberOfMessagesVisible", "DeadLetterQueue") in watched
    assert ("ApproximateAgeOfOldestMessage", "WorkQueue") in watched
    assert ("Errors", "TokenRefresherFunction") in watched


def test_an_alarm_fires_when_p99_acknowledgement_latency_nears_the_10_second_budget() -> None:
    alarm = RESOURCES["AcknowledgementLatencyAlarm"]["Properties"]
    receiver = (ROOT / "functions/receiver/app.py").read_text()

    assert (alarm["MetricName"], alarm["ExtendedStatistic"]) == ("AcknowledgementLatency", "p99")
    assert alarm["Dimensions"] == [  # the exact set: Powertools adds service to every metric
        {"Name": "Scope", "Value": "AllTriggers"},
        {"Name": "service", "Value": "sailpoint-event-triggers"},
    ]
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
    sends = [
        statement["Resource"]
        for policy in policies
        for branch in _branches(policy)
        for statement in _statements(branch)
        if any(action.startswith("sqs:") for action in statement["Action"])
    ]
    assert sends == [{"Fn::GetAtt": ["WorkQueue", "Arn"]}]
    assert not any("SQSSendMessagePolicy" in p for p in policies)  # it grants sqs:SendMessage*


def test_the_token_refresher_runs_well_inside_the_token_lifetime_and_fails_loudly() -> None:
    [event] = FUNCTIONS["TokenRefresherFunction"]["Properties"]["Events"].values()
    assert event["Type"] == "Schedule"
    # every minute; a new token is written only every 10 minutes (tests/unit/test_token_schedule.py)
    assert event["Properties"]["Schedule"] == "rate(1 minute)"
    assert event["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert event["Properties"]["DeadLetterConfig"]["Type"] == "SQS"


def test_only_the_refresher_writes_the_token_and_only_there() -> None:
    writers = []
    for name, function in FUNCTIONS.items():
        for policy in (b for p in function["Properties"].get("Policies", []) for b in _branches(p)):
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
    assert rotation["Condition"] == "HttpWithInboundCredential"  # no rotation without HTTP or with NO_AUTH
    assert rotation["Properties"]["RotationLambdaARN"] == {"Fn::GetAtt": ["CredentialRotatorFunction", "Arn"]}
    assert rotation["Properties"]["RotationRules"]["ScheduleExpression"] == {
        "Fn::If": ["RotatesDaily", "rate(1 day)", {"Fn::Sub": "rate(${InboundCredentialRotationDays} days)"}]
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
    # subscribe only once the receiver exists (when there is one: HTTP transport)
    assert properties["Receiver"] == {"Fn::If": ["HttpTransport", {"Ref": "ReceiverFunction"}, ""]}
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


def test_sam_validate_lint_passes_offline() -> None:
    # `sam validate --lint` runs cfn-lint's rules too (a separate cfn-lint run repeated them)
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


# --- cold start, concurrency, failures, encryption (issue 17) ------------------------------------


@pytest.mark.parametrize("name", ["ReceiverFunction", "WorkerFunction"])
def test_snapstart_is_an_opt_in_on_published_versions_behind_the_alias(name: str) -> None:
    assert TEMPLATE["Parameters"]["SnapStart"]["Default"] == "false"
    assert TEMPLATE["Conditions"]["SnapStartOn"] == {"Fn::Equals": [{"Ref": "SnapStart"}, "true"]}
    properties = FUNCTIONS[name]["Properties"]
    assert properties["SnapStart"] == {"ApplyOn": {"Fn::If": ["SnapStartOn", "PublishedVersions", "None"]}}
    assert properties["AutoPublishAlias"] == "live"  # SAM points the function's event sources at it


def test_every_function_reserves_concurrency_unless_the_account_cannot() -> None:
    assert TEMPLATE["Parameters"]["ReservedConcurrency"]["Default"] == "false"  # new accounts: quota 10
    expected = {
        "ReceiverFunction": {"Ref": "ReceiverConcurrency"},
        "WorkerFunction": {"Ref": "WorkerMaxConcurrency"},
        **dict.fromkeys(SCHEDULED, 1),
    }
    for name, function in FUNCTIONS.items():
        reserved = function["Properties"]["ReservedConcurrentExecutions"]
        assert reserved == {"Fn::If": ["ReservesConcurrency", expected[name], NO_VALUE]}, name


def test_the_worker_event_source_caps_concurrent_invocations() -> None:
    [event] = FUNCTIONS["WorkerFunction"]["Properties"]["Events"].values()
    assert event["Properties"]["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "WorkerMaxConcurrency"}}
    assert TEMPLATE["Parameters"]["WorkerMaxConcurrency"]["MinValue"] >= 2  # Lambda's minimum


@pytest.mark.parametrize("name", SCHEDULED)
def test_asynchronously_invoked_functions_keep_their_failures(name: str) -> None:
    config = FUNCTIONS[name]["Properties"]["EventInvokeConfig"]
    assert config["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["AsyncFailureQueue", "Arn"]},
    }
    queue = RESOURCES["AsyncFailureQueue"]["Properties"]
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    alarms = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert any(
        a["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["AsyncFailureQueue", "QueueName"]} for a in alarms
    )


def test_api_access_logs_have_retention_and_no_bodies_or_credentials() -> None:
    condition, setting, off = resource_of_type("AWS::Serverless::Api")["Properties"]["AccessLogSetting"][
        "Fn::If"
    ]
    assert (condition, off) == ("ApiAccessLogsOn", NO_VALUE)  # opt-in: needs the account's logs role
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    group = RESOURCES["ApiAccessLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    variables = set(re.findall(r"\$context\.[A-Za-z.]+", setting["Format"]))
    assert variables and not any(
        word in variable.lower()
        for variable in variables
        for word in ("body", "header", "authorizer", "apikey", "querystring", "identity.user", "caller")
    ), variables
    json.loads(setting["Format"])  # one JSON document per request


def test_a_customer_key_encrypts_every_store_when_given() -> None:
    assert TEMPLATE["Parameters"]["KmsKeyArn"]["Default"] == ""
    key = {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, NO_VALUE]}
    where = {
        "AWS::SecretsManager::Secret": lambda p: p["KmsKeyId"],
        "AWS::SQS::Queue": lambda p: p["KmsMasterKeyId"],
        "AWS::Logs::LogGroup": lambda p: p["KmsKeyId"],
        "AWS::DynamoDB::Table": lambda p: p["SSESpecification"]["KMSMasterKeyId"],
        "AWS::Serverless::Function": lambda p: p["KmsKeyArn"],
    }
    for name, resource in RESOURCES.items():
        if resource["Type"] in where:
            assert where[resource["Type"]](resource["Properties"]) == key, name


# --- IAM: least privilege on the policies SAM generates --------------------------------------------

# Every `*` a deployed role may hold, with the reason AWS gives no narrower choice.
WILDCARD_EXCEPTIONS = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": (
        "SAM attaches it to every function: CloudWatch Logs writes (logs:CreateLogStream, PutLogEvents) "
        "on any log group; the functions log to their own group through LoggingConfig"
    ),
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": (
        "Tracing: Active; X-Ray's PutTraceSegments/PutTelemetryRecords have no resource-level permissions"
    ),
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": (
        "SAM attaches it for the worker's SQS event source (ReceiveMessage, DeleteMessage, "
        "GetQueueAttributes); the code itself only changes visibility and sends, scoped below"
    ),
    "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs": (
        "API Gateway's account-level logs role (CreateApiGatewayLogsRole=true): it writes to log groups "
        "API Gateway names itself, so AWS's policy covers any log group"
    ),
}


def _pick_branches(template: dict[str, Any], value: Any, parameters: dict[str, str]) -> Any:
    """Replace each Fn::If by its branch for these parameters; drop AWS::NoValue."""
    if isinstance(value, list):
        picked = [_pick_branches(template, v, parameters) for v in value]
        return [v for v in picked if v != NO_VALUE]
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            name, when_true, when_false = value["Fn::If"]
            chosen = when_true if condition(template, {"Condition": name}, parameters) else when_false
            return _pick_branches(template, chosen, parameters)
        return {k: _pick_branches(template, v, parameters) for k, v in value.items()}
    return value


def _deployed_roles(overrides: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The IAM roles of the template as SAM transforms it for `sam deploy`, conditions applied
    (the translation local mode enforces: idn_local.iam_roles)."""
    from idn_local.iam_roles import translate

    parameters = {
        name: str(spec["Default"]) for name, spec in TEMPLATE["Parameters"].items() if "Default" in spec
    }
    parameters.update(
        SailPointClientId="id", SailPointClientSecret="secret", TenantApiUrl="https://t.api.identitynow.com"
    )
    parameters.update(overrides)
    output = translate(ROOT / "template.yaml", parameters)
    roles = {}
    for name, resource in output["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        if "Condition" in resource and not condition(
            output, {"Condition": resource["Condition"]}, parameters
        ):
            continue
        roles[name] = _pick_branches(output, resource["Properties"], parameters)
    return roles


def _arn(value: Any) -> str:
    if isinstance(value, dict) and "Fn::Sub" in value:
        return str(value["Fn::Sub"]).replace("${AWS::Partition}", "aws")
    return str(value)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {
            "SnapStart": "true",
            "KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k",
            "CreateApiGatewayLogsRole": "true",
        },
    ],
    ids=["defaults", "every-option-on"],
)
def test_no_role_grants_wildcard_actions_or_resources_beyond_the_listed_exceptions(
    overrides: dict[str, str],
) -> None:
    roles = _deployed_roles(overrides)
    assert {"ReceiverFunctionRole", "WorkerFunctionRole", "TokenRefresherFunctionRole"} <= set(roles)
    for name, role in roles.items():
        for arn in map(_arn, role.get("ManagedPolicyArns", [])):
            assert arn in WILDCARD_EXCEPTIONS, f"{name}: managed policy {arn} is not a listed exception"
        for policy in role.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                resources = (
                    statement["Resource"]
                    if isinstance(statement["Resource"], list)
                    else [statement["Resource"]]
                )
                assert all("*" not in action for action in actions), f"{name}: wildcard action {actions}"
                assert all(resource != "*" for resource in resources), f"{name}: resource * for {actions}"
    assert all(len(reason) > 40 for reason in WILDCARD_EXCEPTIONS.values())


# --- scanners and linters -------------------------------------------------------------------------


def _checkov() -> str:
    """checkov lives in its own venv (.venv/checkov, made by `make venv`): it pins boto3 1.35."""
    path = Path(sys.executable).parent.parent / "checkov" / "bin" / "checkov"
    assert path.exists(), f"{path} missing: run `make venv` (checkov cannot share this venv's boto3)"
    return str(path)


def test_checkov_finds_no_unsuppressed_failure_and_every_suppression_has_a_reason() -> None:
    result = subprocess.run(
        [
            _checkov(),
            "-f",
            str(ROOT / "template.yaml"),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
        ],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "BC_API_KEY": "", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
        timeout=300,
    )
    report = json.loads(result.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert not failed, failed
    assert report["summary"]["passed"] > 0 and report["summary"]["parsing_errors"] == 0
    skips = [
        skip
        for resource in RESOURCES.values()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips and all(skip["id"].startswith("CKV_") and len(skip["comment"]) > 30 for skip in skips)


def test_linters_pass_with_every_option_on(tmp_path: Path) -> None:
    # `sam validate --lint` runs cfn-lint's rules on the template too: one run proves both
    variant = tmp_path / "template.json"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "template_variant.py"), str(variant)], check=True)
    assert json.loads(variant.read_text())["Parameters"]["SnapStart"]["Default"] == "true"
    command = [_tool("sam"), "validate", "--lint", "--template", str(variant)]
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(command, check=False, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# -- the delivery archive (issue 15) -----------------------------------------------------------------
ARCHIVE = RESOURCES["ArchiveBucket"]


def test_the_archive_exists_unless_its_retention_is_zero() -> None:
    parameter = TEMPLATE["Parameters"]["ArchiveRetentionDays"]
    assert (parameter["Default"], parameter["MinValue"]) == (7, 0)
    assert TEMPLATE["Conditions"]["ArchiveEnabled"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ArchiveRetentionDays"}, 0]}]
    }
    archive_resources = {n for n, r in RESOURCES.items() if "Archive" in n}
    assert archive_resources == {"ArchiveBucket", "ArchiveBucketPolicy", "ArchiveFailureAlarm"}
    assert all(RESOURCES[n]["Condition"] == "ArchiveEnabled" for n in archive_resources)
    assert TEMPLATE["Outputs"]["ArchiveBucketName"]["Condition"] == "ArchiveEnabled"


def test_the_archive_is_encrypted_s3_managed_by_default_or_with_the_given_kms_key() -> None:
    [rule] = ARCHIVE["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    condition, kms, default = rule["ServerSideEncryptionByDefault"]["Fn::If"]
    assert condition == "ArchiveUsesKms"
    assert kms == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Ref": "KmsKeyArn"}}
    assert default == {"SSEAlgorithm": "AES256"}
    assert TEMPLATE["Parameters"]["KmsKeyArn"]["Default"] == ""  # the one customer key, when given


def test_the_archive_blocks_public_access_and_expires_its_records() -> None:
    properties = ARCHIVE["Properties"]
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(properties["PublicAccessBlockConfiguration"]) == 4
    assert properties["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    [rule] = properties["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and rule["ExpirationInDays"] == {"Ref": "ArchiveRetentionDays"}
    assert "Prefix" not in rule and "TagFilters" not in rule  # every record expires
    assert "VersioningConfiguration" not in properties  # no old versions outliving the retention


def test_the_archive_refuses_every_request_without_tls() -> None:
    policy = RESOURCES["ArchiveBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "ArchiveBucket"}
    [statement] = policy["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == ("Deny", "*", "s3:*")
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Resource"] == [
        {"Fn::GetAtt": ["ArchiveBucket", "Arn"]},
        {"Fn::Sub": "${ArchiveBucket.Arn}/*"},
    ]


def _s3_grants(name: str) -> list[tuple[str, Any]]:
    grants = []
    for policy in (b for p in FUNCTIONS[name]["Properties"].get("Policies", []) for b in _branches(p)):
        assert not any(key.startswith("S3") for key in policy if key != "Statement"), f"{name}: S3 template"
        for statement in _statements(policy):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            grants += [(action, statement["Resource"]) for action in actions if action.startswith("s3:")]
    return grants


def test_only_the_receiver_and_the_worker_reach_the_archive_and_only_to_write_records() -> None:
    writers = {name: _s3_grants(name) for name in FUNCTIONS if _s3_grants(name)}
    expected = [("s3:PutObject", {"Fn::Sub": "${ArchiveBucket.Arn}/events/*"})]
    assert writers == {"ReceiverFunction": expected, "WorkerFunction": expected}
    for name in writers:
        variables = FUNCTIONS[name]["Properties"]["Environment"]["Variables"]
        assert variables["ARCHIVE_BUCKET"] == {"Fn::If": ["ArchiveEnabled", {"Ref": "ArchiveBucket"}, ""]}


def test_archive_failures_raise_an_alarm() -> None:
    alarm = RESOURCES["ArchiveFailureAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        GLOBALS["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"],
        "ArchiveFailures",
    )
    assert alarm["Dimensions"] == [
        {"Name": "service", "Value": GLOBALS["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]}
    ]
    assert alarm["Threshold"] == 1 and alarm["TreatMissingData"] == "notBreaching"


# -- the transports: HTTP, EVENTBRIDGE, BOTH ------------------------------------------------------
TRANSPORTS = ("HTTP", "EVENTBRIDGE", "BOTH")
HTTP_ONLY = {
    "TriggersApi",
    "ReceiverFunction",
    "ReceiverLogGroup",
    "InboundCredentialSecret",
    "InboundCredentialRotation",
    "CredentialRotatorFunction",
    "CredentialRotatorLogGroup",
    "CredentialRotatorPermission",
}
EVENTBRIDGE_ONLY = {"EventsDeadLetterQueue", "EventsToWorkQueuePolicy", "EventsDeadLetterAlarm"}
REQUIRED = {
    "TenantApiUrl": "https://acme.api.identitynow.com",
    "SailPointClientId": "c",
    "SailPointClientSecret": "s",
}


def deployed(**parameters: str) -> set[str]:
    """The resources CloudFormation would create with these parameters (conditions evaluated)."""
    from idn_local.stack import Stack

    return set(Stack(ROOT / "template.yaml", {**REQUIRED, **parameters}).resources)


def test_http_is_the_default_transport() -> None:
    assert TEMPLATE["Parameters"]["Transport"]["Default"] == "HTTP"
    assert TEMPLATE["Parameters"]["Transport"]["AllowedValues"] == list(TRANSPORTS)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_api_gateway_and_the_inbound_credential_exist_only_with_http(transport: str) -> None:
    resources = deployed(Transport=transport)
    if transport == "EVENTBRIDGE":
        assert not HTTP_ONLY & resources  # no public endpoint, no credential to store or rotate
    else:
        assert resources >= HTTP_ONLY


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_eventbridge_resources_exist_only_with_eventbridge(transport: str) -> None:
    resources = deployed(Transport=transport)
    if transport == "HTTP":
        assert not EVENTBRIDGE_ONLY & resources
    else:
        assert resources >= EVENTBRIDGE_ONLY
    # the same worker and queue serve every transport
    assert {"WorkerFunction", "WorkQueue", "DeadLetterQueue", "IdempotencyTable"} <= resources


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_reference_resolves_to_a_deployed_resource(transport: str) -> None:
    from idn_local.stack import Stack

    stack = Stack(ROOT / "template.yaml", {**REQUIRED, "Transport": transport})
    names = set(stack.resources)

    def refs(value: Any) -> set[str]:
        if isinstance(value, list):
            return set().union(*map(refs, value)) if value else set()
        if not isinstance(value, dict):
            return set()
        if len(value) == 1 and "Fn::If" in value:
            condition, yes, no = value["Fn::If"]
            return refs(yes if stack.condition(condition) else no)
        found = set()
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            found.add(target.split(".")[0] if isinstance(target, str) else target[0])
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            found |= {m.split(".")[0] for m in __import__("re").findall(r"\$\{([^}!]+)\}", text)}
        return found | set().union(*(refs(v) for v in value.values()))

    for name, resource in stack.resources.items():
        unresolved = {
            r for r in refs(resource.get("Properties", {})) if r in RESOURCES and r not in names
        } | {d for d in _depends_on(resource) if d not in names}
        assert not unresolved, f"{transport}: {name} refers to {unresolved}, not deployed"


def _depends_on(resource: dict[str, Any]) -> list[str]:
    depends = resource.get("DependsOn", [])
    return [depends] if isinstance(depends, str) else list(depends)


def test_partner_buses_route_served_triggers_to_the_work_queue_with_a_dead_letter_queue() -> None:
    resource = RESOURCES["PartnerEventBuses"]
    assert resource["Condition"] == "HasPartnerEventSources"
    properties = resource["Properties"]
    assert properties["ServiceToken"] == {"Fn::GetAtt": ["SubscriptionsFunction", "Arn"]}
    assert properties["SourceNames"] == {"Ref": "PartnerEventSources"}
    assert properties["WorkQueueArn"] == {"Fn::GetAtt": ["WorkQueue", "Arn"]}
    assert properties["EventsDeadLetterQueueArn"] == {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}
    assert properties["EnabledTriggers"] == {"Ref": "EnabledTriggers"}
    assert "PartnerEventBuses" not in deployed(Transport="EVENTBRIDGE")  # no sources listed
    listed = "aws.partner/sailpoint.com/54d68478-7e9b-46f5-ae82-89a5055df5f2/idn/identity-created"
    assert "PartnerEventBuses" in deployed(Transport="BOTH", PartnerEventSources=listed)


def test_only_sailpoint_partner_rules_may_send_to_the_queues() -> None:
    [statement] = RESOURCES["EventsToWorkQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    source = statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    assert source.endswith(":rule/aws.partner/sailpoint.com/*")
    queue = RESOURCES["EventsDeadLetterQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] == {"Fn::If": ["HasKmsKey", NO_VALUE, True]}  # or the customer key
    assert queue["MessageRetentionPeriod"] == 1209600


def test_the_worker_knows_the_deadline_and_extra_triggers_of_events() -> None:
    worker = FUNCTIONS["WorkerFunction"]["Properties"]["Environment"]["Variables"]
    assert worker["RESPONSE_DEADLINE"] == {"Ref": "ResponseDeadline"}
    assert worker["EXTRA_TRIGGERS"] == {"Ref": "ExtraTriggers"}


@pytest.mark.parametrize(
    ("parameters", "problem"),
    [
        ({"Transport": "HTTP", "SubscriptionType": "EVENTBRIDGE"}, "needs Transport EVENTBRIDGE or BOTH"),
        ({"Transport": "EVENTBRIDGE", "SubscriptionType": "HTTP"}, "needs Transport HTTP or BOTH"),
        (
            {"Transport": "HTTP", "PartnerEventSources": "aws.partner/sailpoint.com/x/idn/y"},
            "PartnerEventSources needs Transport EVENTBRIDGE or BOTH",
        ),
    ],
)
def test_contradictory_transport_parameters_are_refused_before_deploy(
    parameters: dict[str, str], problem: str
) -> None:
    from idn_local.stack import TemplateError

    with pytest.raises(TemplateError, match=problem):
        deployed(**parameters)


def _with_transport(tmp_path: Path, transport: str) -> Path:
    """template.yaml with another default Transport, next to the code its paths point at."""
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    marker = "  Transport:\n    Type: String\n    Default: HTTP\n"
    assert marker in text
    path = ROOT / f".template-{transport.lower()}-{tmp_path.name}.yaml"
    path.write_text(text.replace(marker, marker.replace("HTTP", transport)), encoding="utf-8")
    return path


@pytest.mark.parametrize("transport", ["EVENTBRIDGE", "BOTH"])
def test_cfn_lint_and_sam_validate_pass_for_each_transport(transport: str, tmp_path: Path) -> None:
    # HTTP is the default: test_sam_validate_lint_passes_offline covers it
    path = _with_transport(tmp_path, transport)
    try:  # `sam validate --lint` runs cfn-lint's rules as well: one run proves both
        env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
        sam = subprocess.run(
            [_tool("sam"), "validate", "--lint", "--template", str(path)],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
        )
        assert sam.returncode == 0, sam.stdout + sam.stderr
    finally:
        path.unlink()


# -- recovery (issue 13) ----------------------------------------------------------------------------
def test_the_reconciler_runs_on_a_schedule_whose_period_is_a_parameter_of_10_minutes() -> None:
    [event] = FUNCTIONS["ReconcilerFunction"]["Properties"]["Events"].values()
    assert event["Type"] == "Schedule"
    assert event["Properties"]["Schedule"] == {"Fn::Sub": "rate(${RecoveryPeriodMinutes} minutes)"}
    period = TEMPLATE["Parameters"]["RecoveryPeriodMinutes"]
    assert period["Default"] == 10 and period["MinValue"] >= 2  # "rate(1 minutes)" is not a valid rate
    # a pass every period, far inside the 48 h the tenant keeps failed invocations
    assert period["MaxValue"] * 60 * 2 < 48 * 3600
    assert event["Properties"]["DeadLetterConfig"]["Type"] == "SQS"


def test_the_recovery_state_table_is_encrypted_with_ttl_and_only_the_reconciler_writes_it() -> None:
    table = RESOURCES["RecoveryStateTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": {"Fn::If": ["HasKmsKey", "KMS", NO_VALUE]},
        "KMSMasterKeyId": {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, NO_VALUE]},
    }
    writers = [
        name
        for name, function in FUNCTIONS.items()
        for policy in function["Properties"].get("Policies", [])
        for statement in _statements(policy)
        if statement["Resource"] == {"Fn::GetAtt": ["RecoveryStateTable", "Arn"]}
    ]
    assert writers == ["ReconcilerFunction"]
    variables = FUNCTIONS["ReconcilerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["RECOVERY_TABLE"] == {"Ref": "RecoveryStateTable"}


def test_the_reconciler_may_only_send_to_the_work_queue() -> None:
    policies = FUNCTIONS["ReconcilerFunction"]["Properties"]["Policies"]
    sends = [
        statement["Resource"]
        for policy in (b for p in policies for b in _branches(p))
        for statement in _statements(policy)
        if any(str(action).startswith("sqs:") for action in statement["Action"])
    ]
    assert sends == [{"Fn::GetAtt": ["WorkQueue", "Arn"]}]
    assert not any("SQSSendMessagePolicy" in p for p in policies)  # it grants sqs:SendMessage*
    variables = FUNCTIONS["ReconcilerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["WORK_QUEUE_URL"] == {"Ref": "WorkQueue"}


def test_the_reconciler_knows_this_stacks_webhook_url_as_the_rotator_does() -> None:
    reconciler = FUNCTIONS["ReconcilerFunction"]["Properties"]["Environment"]["Variables"]
    rotator = FUNCTIONS["CredentialRotatorFunction"]["Properties"]["Environment"]["Variables"]
    assert reconciler["WEBHOOK_BASE_URL"] == rotator["WEBHOOK_BASE_URL"]  # local mode merges them


def test_worker_idempotency_outlives_the_histories_retention_of_failures() -> None:
    # a recovered copy comes up to 48 h after the live delivery and must find its idempotency record
    variables = FUNCTIONS["WorkerFunction"]["Properties"]["Environment"]["Variables"]
    assert int(variables["IDEMPOTENCY_SECONDS"]) > 48 * 3600


def _custom_metric_alarms() -> dict[str, set[str]]:
    """Alarm name -> the SailPointEventTriggers metrics it watches."""
    found: dict[str, set[str]] = {}
    for name, resource in RESOURCES.items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        properties = resource["Properties"]
        if properties.get("Namespace") == "SailPointEventTriggers":
            found[name] = {properties["MetricName"]}
        for query in properties.get("Metrics", []):
            metric = query.get("MetricStat", {}).get("Metric", {})
            if metric.get("Namespace") == "SailPointEventTriggers":
                found.setdefault(name, set()).add(metric["MetricName"])
    return found


def test_unrecoverable_invocations_a_recovery_gap_and_a_stalled_reconciler_alarm() -> None:
    watched = set().union(*_custom_metric_alarms().values())
    assert {
        "UnrecoverableInvocations",
        "RecoveryGap",
        "RecoveryHistoryTruncated",
        "RecoveryPasses",
    } <= watched
    stalled = RESOURCES["RecoveryStalledAlarm"]["Properties"]
    assert stalled["TreatMissingData"] == "notBreaching"  # a new stack has no data (test_aws_rules)
    assert stalled["Metrics"][0]["MetricStat"]["Period"] * stalled["EvaluationPeriods"] < 48 * 3600
    for name in _custom_metric_alarms():
        assert "AlarmActions" in RESOURCES[name]["Properties"]


def test_the_metrics_the_alarms_watch_are_the_ones_the_reconciler_publishes() -> None:
    from datetime import UTC, datetime

    from idn_triggers.recovery import PassReport

    published = set(PassReport(datetime.now(UTC)).metrics())
    recovery = {n: m for n, m in _custom_metric_alarms().items() if "Recover" in n or "Unrecoverable" in n}
    watched = set().union(*recovery.values())
    assert watched and watched <= published


def test_outputs_name_the_recovery_state_table() -> None:
    assert TEMPLATE["Outputs"]["RecoveryStateTableName"]["Value"] == {"Ref": "RecoveryStateTable"}


SAILPOINT_CALLERS = sorted(
    name
    for name, function in FUNCTIONS.items()
    if "SAILPOINT_CLIENT_SECRET_ID" in function["Properties"]["Environment"]["Variables"]
)


def test_every_function_that_calls_sailpoint_shares_one_budget() -> None:
    assert set(SAILPOINT_CALLERS) >= {
        "WorkerFunction",
        "TokenRefresherFunction",
        "ReconcilerFunction",
        "SubscriptionsFunction",
        "CredentialRotatorFunction",
    }
    table = RESOURCES["SailPointBudgetTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    for name in SAILPOINT_CALLERS:
        properties = FUNCTIONS[name]["Properties"]
        assert properties["Environment"]["Variables"]["SAILPOINT_BUDGET_TABLE"] == {
            "Ref": "SailPointBudgetTable"
        }
        grants = [
            s
            for p in properties["Policies"]
            for branch in _branches(p)
            for s in _statements(branch)
            if s.get("Resource") == {"Fn::GetAtt": ["SailPointBudgetTable", "Arn"]}
        ]
        assert [g["Action"] for g in grants] == [["dynamodb:UpdateItem"]], name


def test_the_handler_watchdog_answers_inside_sailpoints_ten_seconds_by_default() -> None:
    """The real default: SailPoint's 10 s minus the cold-start and network margin, below the
    receiver's Lambda timeout (tests shorten it in local mode; this is what a deploy gets)."""
    from idn_triggers.failure_policy import (
        COLD_START_AND_NETWORK_MARGIN,
        DEFAULT_ANSWER_SECONDS,
        SAILPOINT_ANSWER_SECONDS,
    )
    from idn_triggers.settings import ReceiverSettings

    parameter = TEMPLATE["Parameters"]["HandlerAnswerSeconds"]
    receiver = FUNCTIONS["ReceiverFunction"]["Properties"]
    timeout = receiver.get("Timeout", GLOBALS["Timeout"])

    assert SAILPOINT_ANSWER_SECONDS == 10.0
    assert (
        parameter["Default"]
        == DEFAULT_ANSWER_SECONDS
        == SAILPOINT_ANSWER_SECONDS - COLD_START_AND_NETWORK_MARGIN
    )
    assert ReceiverSettings.model_fields["answer_seconds"].default == DEFAULT_ANSWER_SECONDS
    assert parameter["MaxValue"] < timeout < SAILPOINT_ANSWER_SECONDS
    assert receiver["Environment"]["Variables"]["HANDLER_ANSWER_SECONDS"] == {"Ref": "HandlerAnswerSeconds"}
    assert TEMPLATE["Parameters"]["FailurePolicies"]["Default"] == ""  # error for every trigger


def test_per_trigger_controls_are_wired_to_the_worker_the_alarm_and_the_dashboard() -> None:
    worker = FUNCTIONS["WorkerFunction"]["Properties"]
    variables = worker["Environment"]["Variables"]
    assert variables["TRIGGER_CONTROL_TABLE"] == {"Ref": "TriggerControlTable"}
    assert variables["TRIGGER_RATE_LIMITS"] == {"Ref": "TriggerRateLimits"}
    assert variables["CIRCUIT_BREAKER_FAILURES"] == {"Ref": "CircuitBreakerFailures"}
    [grant] = [
        s
        for p in worker["Policies"]
        for branch in _branches(p)
        for s in _statements(branch)
        if s.get("Resource") == {"Fn::GetAtt": ["TriggerControlTable", "Arn"]}
    ]
    assert sorted(grant["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    table = RESOURCES["TriggerControlTable"]["Properties"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert RESOURCES["CircuitBreakerAlarm"]["Properties"]["MetricName"] == "CircuitBreakerOpened"
    body = json.dumps(RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"])
    assert "CircuitBreakerOpened" in body and 'Outcome=\\\\\\"held\\\\\\"' in body
    assert TEMPLATE["Outputs"]["TriggerControlTableName"]["Value"] == {"Ref": "TriggerControlTable"}


# -- issue 27 item 8: an optional source-IP allow-list in front of the receiver --------------------
def _deployed_rest_api(overrides: dict[str, str]) -> dict[str, Any]:
    """The RestApi's properties as SAM transforms the template for `sam deploy`, conditions applied."""
    import copy

    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((ROOT / "template.yaml").read_text())
    for resource in template["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/key"
    parameters = {
        name: str(spec["Default"]) for name, spec in template["Parameters"].items() if "Default" in spec
    }
    parameters.update(
        SailPointClientId="id", SailPointClientSecret="secret", TenantApiUrl="https://t.api.identitynow.com"
    )
    parameters.update(overrides)

    class NoManagedPolicyLookups:
        def load(self) -> dict[str, str]:
            return {}

    output = transform(copy.deepcopy(template), parameters, NoManagedPolicyLookups())
    [api] = [r for r in output["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    properties = _pick_branches(output, api["Properties"], parameters)
    return {key: value for key, value in properties.items() if value != NO_VALUE}  # as CloudFormation does


def test_the_api_has_no_resource_policy_by_default() -> None:
    assert "Policy" not in _deployed_rest_api({})


def test_a_source_ip_allow_list_refuses_every_other_address_at_api_gateway() -> None:
    ranges = "34.195.46.37/32,2600:1f18::/36"
    policy = _deployed_rest_api({"SourceIpAllowList": ranges})["Policy"]
    allow, deny = policy["Statement"]
    assert (allow["Effect"], allow["Action"], allow["Resource"]) == (
        "Allow",
        "execute-api:Invoke",
        "execute-api:/*",
    )
    assert "Condition" not in allow
    assert (deny["Effect"], deny["Principal"], deny["Action"], deny["Resource"]) == (
        "Deny",
        "*",
        "execute-api:Invoke",
        "execute-api:/*",
    )
    assert deny["Condition"] == {
        "NotIpAddress": {"aws:SourceIp": {"Fn::Split": [",", {"Ref": "SourceIpAllowList"}]}}
    }


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("", True),
        ("34.195.46.37/32", True),
        ("34.195.46.37/32,52.4.168.0/22,2600:1f18::/36", True),
        ("34.195.46.37 /32", False),
        ("0.0.0.0/0;", False),
        ("34.195.46.37/32,", False),
    ],
)
def test_the_allow_list_parameter_takes_comma_separated_cidrs(value: str, allowed: bool) -> None:
    pattern = TEMPLATE["Parameters"]["SourceIpAllowList"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is allowed


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://acme.api.identitynow.com", True),
        ("http://127.0.0.1:8400", True),
        ("http://acme.api.identitynow.com", False),
        ("http://10.0.0.1:8400", False),
        ("https://acme.api.identitynow.com/", False),
    ],
)
def test_the_tenant_api_url_must_be_https_outside_local_mode(url: str, allowed: bool) -> None:
    """Issue 27 item 7: the template refused nothing but a trailing slash; http sent secrets in clear."""
    pattern = TEMPLATE["Parameters"]["TenantApiUrl"]["AllowedPattern"]
    assert (re.fullmatch(pattern, url) is not None) is allowed
