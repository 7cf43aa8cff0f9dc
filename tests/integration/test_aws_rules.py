"""AWS's own rules and quotas, written down (issue 26): checked offline on the template as SAM
translates it (aws-sam-translator, as CloudFormation runs it), across parameter variants.

Each test names the AWS document the rule comes from.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from tests.support import ROOT, condition

RAW: dict[str, Any] = yaml_parse((ROOT / "template.yaml").read_text())
REQUIRED = {
    "TenantApiUrl": "https://acme.api.identitynow.com",
    "SailPointClientId": "id",
    "SailPointClientSecret": "secret",
}
NO_VALUE = {"Ref": "AWS::NoValue"}


class _NoManagedPolicyLookups:
    def load(self) -> dict[str, str]:
        return {}


def parameters(**overrides: str) -> dict[str, str]:
    values = {name: str(spec["Default"]) for name, spec in RAW["Parameters"].items() if "Default" in spec}
    return {**values, **REQUIRED, **overrides}


@functools.cache
def _translated(items: tuple[tuple[str, str], ...], layer_key: str = "") -> dict[str, Any]:
    template = copy.deepcopy(RAW)
    for name, resource in template["Resources"].items():  # what sam package leaves: S3 locations
        for key in ("CodeUri", "ContentUri"):
            if isinstance(resource.get("Properties", {}).get(key), str):
                suffix = layer_key if name == "HandlersLayer" else ""
                resource["Properties"][key] = f"s3://bucket/{name}{suffix}"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return dict(transform(template, dict(items), _NoManagedPolicyLookups()))


def translated(layer_key: str = "", **overrides: str) -> tuple[dict[str, Any], dict[str, str]]:
    values = parameters(**overrides)
    return _translated(tuple(sorted(values.items())), layer_key), values


def resolved(template: dict[str, Any], value: Any, values: dict[str, str]) -> Any:
    """Fn::If branches picked, AWS::NoValue dropped, parameter Refs and simple Fn::Sub replaced."""
    if isinstance(value, list):
        picked = [resolved(template, v, values) for v in value]
        return [v for v in picked if v != NO_VALUE]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::If"}:
        name, yes, no = value["Fn::If"]
        return resolved(template, yes if condition(template, {"Condition": name}, values) else no, values)
    if set(value) == {"Ref"} and value["Ref"] in values:
        return values[value["Ref"]]
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        text = value["Fn::Sub"]
        return re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: values.get(m.group(1), m.group(0)), text)
    picked_items = {k: resolved(template, v, values) for k, v in value.items()}
    return {k: v for k, v in picked_items.items() if v != NO_VALUE}


def deployed(template: dict[str, Any], values: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The resources CloudFormation creates with these parameters, their Fn::If resolved."""
    return {
        name: resolved(template, resource, values)
        for name, resource in template["Resources"].items()
        if "Condition" not in resource or condition(template, {"Condition": resource["Condition"]}, values)
    }


def of_type(resources: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


# -- 1. Lambda concurrency ------------------------------------------------------------------------
# Lambda "Configuring reserved concurrency": reservations must leave the account's unreserved
# concurrency at 100 or more; new accounts may have a quota of 10 (Lambda quotas page).
UNRESERVED_MINIMUM = 100


def reservations_fit(total_reserved: int, quota: int) -> bool:
    return total_reserved == 0 or quota - total_reserved >= UNRESERVED_MINIMUM


def test_the_default_parameters_fit_a_concurrency_quota_of_10() -> None:
    template, values = translated()
    functions = of_type(deployed(template, values), "AWS::Lambda::Function")
    reserved = sum(int(f["Properties"].get("ReservedConcurrentExecutions", 0)) for f in functions.values())
    assert reservations_fit(reserved, quota=10), f"{reserved} reserved"
    description = RAW["Parameters"]["ReservedConcurrency"]["Description"]
    assert "quota" in description and "100" in description  # the option says what it needs


# -- 2. API Gateway access logs ----------------------------------------------------------------------
# API Gateway "Set up CloudWatch logging": access logs need the account's CloudWatch role ARN, else
# "CloudWatch Logs role ARN must be set in account settings". AWS::ApiGateway::Account docs: in an
# account without API Gateway resources it must depend on one.
def stage_of(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    [stage] = of_type(resources, "AWS::ApiGateway::Stage").values()
    return stage


def test_access_logs_are_on_only_where_the_account_role_exists_or_is_created() -> None:
    template, values = translated()
    resources = deployed(template, values)
    assert "AccessLogSetting" not in stage_of(resources)["Properties"]  # a new account has no role
    assert "ApiGatewayAccount" not in resources


def test_a_created_logs_role_is_set_on_the_account_after_a_rest_api_exists_and_before_the_stage() -> None:
    template, values = translated(CreateApiGatewayLogsRole="true")
    resources = deployed(template, values)
    [api] = of_type(resources, "AWS::ApiGateway::RestApi")
    depends = resources["ApiGatewayAccount"].get("DependsOn")
    assert api in ([depends] if isinstance(depends, str) else depends)
    stage = stage_of(resources)
    assert "AccessLogSetting" in stage["Properties"]
    assert {"Ref": "ApiGatewayAccount"} in stage["Properties"]["Variables"].values()
    assert resources["ApiGatewayLogsRole"]["DeletionPolicy"] == "Retain"  # the account setting outlives us


def test_access_logs_on_an_account_that_has_its_role() -> None:
    template, values = translated(ApiAccessLogs="true")
    assert "AccessLogSetting" in stage_of(deployed(template, values))["Properties"]
    assert "account settings" in RAW["Parameters"]["ApiAccessLogs"]["Description"]


# -- 3. schedule expressions -----------------------------------------------------------------------
# EventBridge "Rate expressions": "If the value is equal to 1, then the unit must be singular ...
# if the value is greater than 1, the unit must be plural" (rate(1 minute), rate(5 minutes)).
RATE = re.compile(r"rate\((?:1 (?:minute|hour|day)|(?:[2-9]|[1-9]\d+) (?:minutes|hours|days))\)")


def _schedules(resources: dict[str, Any]) -> dict[str, Any]:
    found = {}
    for name, resource in resources.items():
        properties = resource.get("Properties", {})
        for event_name, event in properties.get("Events", {}).items():
            if event["Type"] == "Schedule":
                found[f"{name}.{event_name}"] = event["Properties"]["Schedule"]
        if "RotationRules" in properties:
            found[name] = properties["RotationRules"]["ScheduleExpression"]
    return found


def _allowed(name: str) -> list[str]:
    spec = RAW["Parameters"][name]
    if "AllowedValues" in spec:
        return [str(v) for v in spec["AllowedValues"]]
    return [str(v) for v in range(int(spec["MinValue"]), int(spec["MaxValue"]) + 1)]


def test_every_schedule_expression_is_valid_for_every_allowed_parameter_value() -> None:
    schedules = _schedules(RAW["Resources"])
    assert len(schedules) >= 3
    for where, expression in schedules.items():
        used = sorted(set(re.findall(r"Ref': '([A-Za-z0-9]+)'|\$\{([A-Za-z0-9]+)\}", str(expression))))
        names = {n for pair in used for n in pair if n and n in RAW["Parameters"]}
        variants = [{}] + [{name: value} for name in names for value in _allowed(name)]
        for variant in variants:
            text = resolved(RAW, expression, parameters(**variant))
            assert RATE.fullmatch(text), f"{where} with {variant}: {text}"


# -- 4. the dashboard --------------------------------------------------------------------------------
# CloudWatch "Dashboard Body Structure and Syntax": widgets have x+width <= 24; a metric widget
# names its region; "annotations.alarms" (one alarm) "can't be combined with metrics" in a widget.
WIDGET_TYPES = {"metric", "text", "log", "alarm", "explorer"}


def dashboard_problems(body: dict[str, Any]) -> list[str]:
    problems = []
    for n, widget in enumerate(body["widgets"]):
        properties = widget.get("properties", {})
        if widget.get("type") not in WIDGET_TYPES:
            problems.append(f"widget {n}: type {widget.get('type')}")
        if not 1 <= widget.get("width", 6) <= 24 or widget.get("x", 0) + widget.get("width", 6) > 24:
            problems.append(f"widget {n}: wider than the grid")
        if widget.get("type") != "metric":
            continue
        alarms = properties.get("annotations", {}).get("alarms")
        if alarms and "metrics" in properties:
            problems.append(f"widget {n}: annotations.alarms together with metrics")
        if alarms is not None and len(alarms) != 1:
            problems.append(f"widget {n}: annotations.alarms takes one alarm")
        if not alarms and not properties.get("metrics"):
            problems.append(f"widget {n}: no metrics")
        if "region" not in properties:
            problems.append(f"widget {n}: no region")
        ids = [
            m[-1]["id"] for m in properties.get("metrics", []) if isinstance(m[-1], dict) and "id" in m[-1]
        ]
        if len(ids) != len(set(ids)):
            problems.append(f"widget {n}: duplicate ids")
    return problems


def dashboard_body(template: dict[str, Any]) -> dict[str, Any]:
    body, values = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for name, value in {"AWS::Region": "us-east-1", **values}.items():
        body = body.replace("${" + name + "}", value if isinstance(value, str) else "x")
    return dict(json.loads(body))


def test_the_dashboard_body_follows_cloudwatchs_widget_rules() -> None:
    assert dashboard_problems(dashboard_body(RAW)) == []


def test_the_widget_rules_catch_an_alarm_annotation_beside_metrics() -> None:
    widget = {"type": "metric", "properties": {"region": "r", "metrics": [["n", "m"]]}}
    widget["properties"]["annotations"] = {"alarms": ["arn"]}
    assert dashboard_problems({"widgets": [widget]}) == ["widget 0: annotations.alarms together with metrics"]


# -- 11. one stage ---------------------------------------------------------------------------------------
# SAM: without OpenApiVersion an Api also gets a stage named "Stage" (aws/serverless-application-model
# #191); it serves the webhook without the stage's throttling and logs.
@pytest.mark.parametrize("stage_name", ["v1", "Stage"])
def test_the_api_has_exactly_the_configured_stage(stage_name: str) -> None:
    template, values = translated(StageName=stage_name)
    resources = deployed(template, values)
    stages = of_type(resources, "AWS::ApiGateway::Stage")
    assert [s["Properties"]["StageName"] for s in stages.values()] == [stage_name]
    # AWS::ApiGateway::Deployment docs: its StageName creates that stage too (SAM sets "Stage")
    for deployment in of_type(resources, "AWS::ApiGateway::Deployment").values():
        assert "StageName" not in deployment["Properties"]


# -- 13. rotation within the rotator's timeout -------------------------------------------------------------
# Lambda quotas: a function runs at most its Timeout (900 s maximum); setSecret waits the receivers'
# credential cache first.
def test_rotation_with_the_largest_cache_setting_completes_within_the_rotators_timeout() -> None:
    from idn_triggers.settings import RotatorSettings

    largest = RAW["Parameters"]["InboundSecretCacheSeconds"]["MaxValue"]
    settings = RotatorSettings.model_validate(
        {
            "TENANT_API_URL": "https://t",
            "SAILPOINT_CLIENT_SECRET_ID": "c",
            "TOKEN_SECRET_ID": "t",
            "INBOUND_AUTH_TYPE": "BEARER_TOKEN",
            "WEBHOOK_BASE_URL": "https://x/triggers/",
            "INBOUND_SECRET_MAX_AGE": str(largest),
        }
    )
    patch_budget = 60  # listing and PATCHing the subscriptions afterwards (5 s timeouts, a few calls)
    timeout = RAW["Resources"]["CredentialRotatorFunction"]["Properties"]["Timeout"]
    assert settings.propagation_seconds + patch_budget <= timeout <= 900


# -- 14. custom resources ----------------------------------------------------------------------------------
# CloudFormation "Custom resources": ServiceTimeout (1-3600 s) bounds the wait for an answer; without
# it CloudFormation waits an hour, and again on rollback.
def test_every_custom_resource_has_a_service_timeout_no_longer_than_its_function() -> None:
    customs = {n: r for n, r in RAW["Resources"].items() if r["Type"].startswith("Custom::")}
    assert customs
    for name, resource in customs.items():
        function = resource["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
        timeout = RAW["Resources"][function]["Properties"].get(
            "Timeout", RAW["Globals"]["Function"]["Timeout"]
        )
        assert 1 <= int(resource["Properties"].get("ServiceTimeout", 3600)) <= timeout, name


# -- 15. ordering ---------------------------------------------------------------------------------------------
def test_subscriptions_are_made_after_the_stage_and_removed_before_it() -> None:
    template, values = translated(SubscribeTriggers="idn:access-request-pre-approval")
    resources = deployed(template, values)
    [stage] = of_type(resources, "AWS::ApiGateway::Stage")
    assert {"Ref": stage} in resources["Subscriptions"]["Properties"].values()


# -- 16. JSON by !Sub ----------------------------------------------------------------------------------------
# A value with `"` or `\` breaks JSON assembled by Fn::Sub: such a parameter must refuse them.
BREAKING = 'a"b\\c'


def test_no_json_is_assembled_by_sub_from_a_value_that_could_break_it() -> None:
    checked = 0
    for name, resource in RAW["Resources"].items():
        for text in re.findall(r"'Fn::Sub': '(\{.*?\})'", str(resource.get("Properties", {}))):
            for parameter in set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text)) & set(RAW["Parameters"]):
                pattern = RAW["Parameters"][parameter].get("AllowedPattern")
                checked += 1
                assert pattern and not re.fullmatch(pattern, BREAKING), f"{name}: {parameter}"
    assert checked >= 2  # the API client's id and secret


# -- 17. versions -----------------------------------------------------------------------------------------------
# Lambda SnapStart pricing: every published version with SnapStart keeps a billed snapshot.
def test_published_versions_are_deleted_once_replaced() -> None:
    template, _values = translated(SnapStart="true")
    versions = of_type(template["Resources"], "AWS::Lambda::Version")
    assert len(versions) == 2
    assert {v["DeletionPolicy"] for v in versions.values()} == {"Delete"}


# -- 10. a new version when a layer changes ------------------------------------------------------------------------
def _version_ids(template: dict[str, Any]) -> set[str]:
    return set(of_type(template["Resources"], "AWS::Lambda::Version"))


def test_a_handlers_layer_change_publishes_new_receiver_and_worker_versions() -> None:
    before, _ = translated()
    after, _ = translated(layer_key="-changed")  # sam package: another S3 key for other content
    assert _version_ids(before) and not _version_ids(before) & _version_ids(after)


# -- 9. alarms on a new stack -----------------------------------------------------------------------------------
# CloudWatch "Configuring how alarms treat missing data": breaching counts every missing datapoint
# against the alarm; a new stack has no datapoints for the whole evaluation range.
class Series(list[float | None]):
    def _zip(self, other: Any, op: Any) -> Series:
        others = other if isinstance(other, list) else [other] * len(self)
        return Series(
            None if a is None or b is None else float(op(a, b)) for a, b in zip(self, others, strict=True)
        )

    def __gt__(self, other: Any) -> Series:  # type: ignore[override]
        return self._zip(other, lambda a, b: a > b)

    def __lt__(self, other: Any) -> Series:  # type: ignore[override]
        return self._zip(other, lambda a, b: a < b)

    def __and__(self, other: Any) -> Series:
        return self._zip(other, lambda a, b: bool(a) and bool(b))


def _expression(text: str, series: dict[str, Series]) -> Series:
    """The metric math this template uses: FILL, IF, comparisons, AND, +."""

    def fill(s: Series, value: float) -> Series:
        return Series(value if v is None else v for v in s)

    def if_(cond: Series, yes: float, no: float) -> Series:
        return Series(None if c is None else (yes if c else no) for c in cond)

    python = text.replace("IF(", "if_(").replace("FILL(", "fill(").replace(" AND ", " & ")
    python = re.sub(r"(\w+\([^()]*\)\s*[<>]\s*\d+)", r"(\1)", python)
    return Series(eval(python, {"fill": fill, "if_": if_}, dict(series)))  # noqa: S307 - our own template


def alarm_state(alarm: dict[str, Any], data: dict[str, Series]) -> str:
    """ALARM or OK after the evaluation range; `data` maps metric names to hourly datapoints."""
    if "Metrics" in alarm:
        series = {
            q["Id"]: data.get(q["MetricStat"]["Metric"]["MetricName"], Series())
            for q in alarm["Metrics"]
            if "MetricStat" in q
        }
        [returned] = [q for q in alarm["Metrics"] if q.get("ReturnData", True)]
        values = _expression(returned["Expression"], series)
    else:
        values = data.get(alarm["MetricName"], Series())
    window = list(values)[-alarm["EvaluationPeriods"] :]
    threshold, operator = alarm["Threshold"], alarm["ComparisonOperator"]
    compare = {
        "LessThanThreshold": lambda v: v < threshold,
        "GreaterThanOrEqualToThreshold": lambda v: v >= threshold,
        "GreaterThanThreshold": lambda v: v > threshold,
    }[operator]
    missing = alarm.get("TreatMissingData", "missing")
    breaching = sum(
        1 for v in window if (v is None and missing == "breaching") or (v is not None and compare(v))
    )
    return "ALARM" if breaching >= alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"]) else "OK"


HOURS = 24


def test_the_stalled_recovery_alarm_is_quiet_on_a_new_stack_and_fires_when_passes_stop() -> None:
    alarm = RAW["Resources"]["RecoveryStalledAlarm"]["Properties"]
    nothing = Series([None] * HOURS)
    assert alarm_state(alarm, {"RecoveryPasses": nothing, "Invocations": nothing}) == "OK"  # just deployed
    runs = Series([6.0] * HOURS)
    assert alarm_state(alarm, {"RecoveryPasses": nothing, "Invocations": runs}) == "ALARM"  # runs, no pass
    passes = Series([None] * (HOURS - 1) + [6.0])
    assert alarm_state(alarm, {"RecoveryPasses": passes, "Invocations": runs}) == "OK"


def test_no_alarm_counts_missing_data_as_breaching() -> None:
    alarms = of_type(RAW["Resources"], "AWS::CloudWatch::Alarm")
    assert [n for n, a in alarms.items() if a["Properties"].get("TreatMissingData") == "breaching"] == []


# -- 12. EventBridge delivery -------------------------------------------------------------------------------------
# EventBridge "Monitoring": FailedInvocations and InvocationsFailedToBeSentToDlq per RuleName; with a
# customer key EventBridge needs kms:Decrypt and kms:GenerateDataKey on it ("Encrypting events",
# Amazon SQS "Key management": "events.amazonaws.com" in the key policy).
def test_eventbridge_delivery_failures_and_lost_events_raise_alarms_on_this_stacks_rule() -> None:
    from idn_triggers.event_buses import rule_name

    template, values = translated(Transport="BOTH")
    resources = deployed(template, values)
    watched = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]["Dimensions"]
        for a in of_type(resources, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "AWS/Events"
    }
    assert set(watched) == {
        ("AWS/Events", "FailedInvocations"),
        ("AWS/Events", "InvocationsFailedToBeSentToDlq"),
    }
    for dimensions in watched.values():
        [dimension] = dimensions
        stack = "my-triggers-stack"
        assert dimension["Name"] == "RuleName"
        assert dimension["Value"].replace("${AWS::StackName}", stack) == rule_name(stack)


def test_the_readme_key_policy_lets_eventbridge_use_a_customer_key() -> None:
    readme = (ROOT / "README.md").read_text()
    checklist = readme[readme.index("## Deploy checklist") :]
    assert "events.amazonaws.com" in checklist and "kms:GenerateDataKey" in checklist


# -- 10. a new version when a parameter or SnapStart changes ---------------------------------------------------
# SAM hashes a function's properties with parameter Refs unresolved (aws-sam-cli #7775), so a new
# parameter value alone keeps the version's logical id. AWS::Lambda::Version: "Description ... Update
# requires: Replacement": the digest of the parameter-made configuration in it publishes a new version.
def _merged_environment(name: str) -> dict[str, Any]:
    variables = dict(RAW["Globals"]["Function"]["Environment"]["Variables"])
    return variables | RAW["Resources"][name]["Properties"]["Environment"]["Variables"]


def _configuration(function: str) -> dict[str, Any]:
    configured = RAW["Resources"]["FunctionConfigurations"]["Properties"][function.removesuffix("Function")]
    if "Fn::If" in configured:
        configured = configured["Fn::If"][1]
    return dict(configured)


@pytest.mark.parametrize("function", ["ReceiverFunction", "WorkerFunction"])
def test_the_configuration_digest_covers_the_functions_whole_environment_snapstart_and_key(
    function: str,
) -> None:
    configured = _configuration(function)
    properties = RAW["Resources"][function]["Properties"]
    assert configured["Environment"] == _merged_environment(function)
    assert configured["SnapStart"] == {"Ref": "SnapStart"} and configured["KmsKeyArn"] == {"Ref": "KmsKeyArn"}
    key = function.removesuffix("Function")
    template, _ = translated()
    [version] = [
        r
        for n, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Version" and n.startswith(function)
    ]
    assert version["Properties"]["Description"] == {
        "Fn::Sub": f"configuration ${{FunctionConfigurations.{key}}}"
    }
    assert (
        properties["AutoPublishAliasAllProperties"] is True
    )  # layers and literal properties: the logical id


@pytest.mark.parametrize(
    "change",
    [
        {"EnabledTriggers": "idn:identity-created"},
        {"LogLevel": "DEBUG"},
        {"KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k"},
        {"SnapStart": "true"},
        {"PreApprovalDeniedItems": "admin-role"},
    ],
    ids=lambda change: next(iter(change)),
)
@pytest.mark.parametrize("function", ["ReceiverFunction", "WorkerFunction"])
def test_a_parameter_change_gives_the_receiver_and_worker_a_new_version(
    function: str, change: dict[str, str]
) -> None:
    from idn_triggers.custom_resource import configuration_digests

    key = function.removesuffix("Function")
    properties = RAW["Resources"]["FunctionConfigurations"]["Properties"]
    before = configuration_digests(resolved(RAW, properties, parameters()))[key]
    after = configuration_digests(resolved(RAW, properties, parameters(**change)))[key]
    same = configuration_digests(resolved(RAW, properties, parameters()))[key]
    assert before != after and before == same  # a new Description (a new version) only on a change


# -- 7. every secret a function reads, it may read -------------------------------------------------------------
# Secrets Manager "Authentication and access control": GetSecretValue needs
# secretsmanager:GetSecretValue on the secret; without it every read is AccessDenied.
def _readers(role: dict[str, Any]) -> set[str]:
    readable = set()
    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement["Effect"] == "Allow" and "secretsmanager:GetSecretValue" in actions:
                resources = (
                    statement["Resource"]
                    if isinstance(statement["Resource"], list)
                    else [statement["Resource"]]
                )
                for resource in resources:  # a Ref, or SAM's policy templates' Fn::Sub of one
                    target = resource
                    if isinstance(resource, dict) and "Fn::Sub" in resource:
                        target = next(iter(resource["Fn::Sub"][1].values()))
                    if isinstance(target, dict) and "Ref" in target:
                        readable.add(target["Ref"])
    return readable


@pytest.mark.parametrize("transport", ["HTTP", "BOTH"])
def test_every_function_may_read_the_secrets_its_environment_names(transport: str) -> None:
    template, values = translated(Transport=transport)
    resources = deployed(template, values)
    for name, function in of_type(resources, "AWS::Lambda::Function").items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        named = {v["Ref"] for k, v in variables.items() if k.endswith("_SECRET_ID") and isinstance(v, dict)}
        role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
        assert named <= _readers(role), f"{name} cannot read {named - _readers(role)}"
