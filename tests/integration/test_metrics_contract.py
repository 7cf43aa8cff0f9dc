"""The metrics contract (issue 26, item 8): every alarm and dashboard query finds data.

CloudWatch matches a metric by namespace, name and its exact set of dimensions ("Amazon CloudWatch
concepts: Dimensions": "you must specify the same dimensions that were used when the metrics were
created"), and SEARCH's `{Namespace,Dim1,...}` schema matches the exact dimension set too. Powertools
adds `service` to every metric. So the metrics are captured as the functions really write them (EMF
lines on stdout, through their entry points, with the template's Powertools settings) and each alarm
and dashboard query of template.yaml must find its namespace, name and dimension set among them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.integration.test_worker_function import Stack, front, stack  # noqa: F401 - fixtures
from tests.support import ROOT, FakeLambdaContext, load_event, load_function

TEMPLATE: dict[str, Any] = __import__("cfnlint.decode.cfn_yaml", fromlist=["load"]).load(
    str(ROOT / "template.yaml")
)
POWERTOOLS = {
    key: value
    for key, value in TEMPLATE["Globals"]["Function"]["Environment"]["Variables"].items()
    if key in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE")
}
NAMESPACE, SERVICE = POWERTOOLS["POWERTOOLS_METRICS_NAMESPACE"], POWERTOOLS["POWERTOOLS_SERVICE_NAME"]
Emitted = set[tuple[str, str, frozenset[tuple[str, str]]]]  # namespace, metric, {(dimension, value)}


def emitted(text: str) -> Emitted:
    """The metrics in the EMF lines of `text`."""
    found: Emitted = set()
    for line in text.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                pairs = frozenset((name, str(document[name])) for name in dimensions)
                for metric in directive["Metrics"]:
                    found.add((directive["Namespace"], metric["Name"], pairs))
    return found


@pytest.fixture(autouse=True)
def template_powertools(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service name and namespace the template gives every function."""
    for key, value in POWERTOOLS.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def capture_all(
    stack: Stack,  # noqa: F811 - the worker test's stack fixture
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Emitted]:
    """Run the receiver, the worker, the token refresher and the reconciler once each."""
    # worker: one request-response and one fire-and-forget record
    stack.send(stack.invocation())
    stack.send(stack.invocation("idn:identity-created"))
    assert stack.deliver(stack.receive(2)) == []
    # receiver: a SYNC answer and a 4xx, archiving to a bucket that does not exist (ArchiveFailures)
    sm = boto3.client("secretsmanager")
    inbound = sm.create_secret(
        Name="inbound", SecretString=json.dumps({"bearerToken": "local-dev-bearer-token"})
    )
    for key, value in {
        "INBOUND_AUTH_TYPE": "BEARER_TOKEN",
        "INBOUND_SECRET_ID": inbound["ARN"],
        "ARCHIVE_BUCKET": "no-such-bucket",
    }.items():
        monkeypatch.setenv(key, value)
    receiver = load_function("receiver")
    for name in ("api/pre-approval.sync.bearer.json", "api/pre-approval.malformed-json.json"):
        receiver.lambda_handler(load_event(name), FakeLambdaContext())
    # token refresher and reconciler, against the same simulator and secrets as the worker
    boto3.client("dynamodb").create_table(
        TableName="recovery",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for key, value in {
        "TENANT_API_URL": f"http://127.0.0.1:{stack.simulator.port}",  # the front forwards POSTs only
        "RECOVERY_TABLE": "recovery",
        "WEBHOOK_BASE_URL": "https://hooks.example.com/triggers/",
    }.items():
        monkeypatch.setenv(key, value)
    refresher: ModuleType = load_function("token_refresher")
    refresher.lambda_handler({}, FakeLambdaContext())
    refresher.lambda_handler({}, FakeLambdaContext())  # reads the stored token: its age metrics
    load_function("reconciler").lambda_handler({}, FakeLambdaContext())
    # the worker's circuit breaker as it opens (driving it there takes CircuitBreakerFailures failures)
    from idn_triggers.trigger_control import count_breaker_opened

    count_breaker_opened("idn:identity-created")
    yield emitted(capsys.readouterr().out)


def _alarm_metrics() -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for name, resource in TEMPLATE["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        properties = resource["Properties"]
        metrics = [properties] + [
            q["MetricStat"]["Metric"] for q in properties.get("Metrics", []) if "MetricStat" in q
        ]
        found[name] = [m for m in metrics if m.get("Namespace") == NAMESPACE]
    return {name: metrics for name, metrics in found.items() if metrics}


def _dashboard() -> tuple[list[tuple[str, frozenset[str]]], list[tuple[str, frozenset[tuple[str, str]]]]]:
    """(SEARCH queries as metric + dimension names, explicit metrics as metric + dimension pairs)."""
    body, values = TEMPLATE["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for name, value in {"AWS::Region": "us-east-1", **values}.items():
        body = body.replace("${" + name + "}", value if isinstance(value, str) else "x")
    searches, explicit = [], []
    for widget in json.loads(body)["widgets"]:
        for metric in widget.get("properties", {}).get("metrics", []):
            first = metric[0]
            if isinstance(first, dict) and "expression" in first:
                match = re.search(r"\{([^}]*)\} MetricName=\"(\w+)\"", first["expression"])
                if match:
                    namespace, *dimensions = match.group(1).split(",")
                    assert namespace == NAMESPACE
                    searches.append((match.group(2), frozenset(dimensions)))
            elif first == NAMESPACE:
                names = [m for m in metric[2:] if isinstance(m, str)]
                explicit.append((metric[1], frozenset(zip(names[::2], names[1::2], strict=True))))
    return searches, explicit


def test_every_alarm_on_our_metrics_watches_a_dimension_set_the_functions_emit(capture_all: Emitted) -> None:
    alarms = _alarm_metrics()
    assert {"AcknowledgementLatencyAlarm", "ArchiveFailureAlarm", "RecoveryStalledAlarm"} <= set(alarms)
    for alarm, metrics in alarms.items():
        for metric in metrics:
            wanted = (
                NAMESPACE,
                metric["MetricName"],
                frozenset((d["Name"], d["Value"]) for d in metric["Dimensions"]),
            )
            assert wanted in capture_all, f"{alarm}: {wanted} is never emitted"


def test_every_dashboard_query_matches_a_dimension_set_the_functions_emit(capture_all: Emitted) -> None:
    searches, explicit = _dashboard()
    assert len(searches) >= 5 and len(explicit) >= 3
    names = {(metric, frozenset(name for name, _ in pairs)) for _, metric, pairs in capture_all}
    for metric, dimensions in searches:
        assert (metric, dimensions) in names, f"SEARCH {metric} {sorted(dimensions)} finds nothing"
    for metric, pairs in explicit:
        assert (NAMESPACE, metric, pairs) in capture_all, f"{metric} {sorted(pairs)} is never emitted"


def test_powertools_adds_the_service_dimension_to_single_metrics(capture_all: Emitted) -> None:
    # the fact the rest rests on: Powertools' single_metric writes [Scope, service], not [Scope]
    latency = {pairs for _, metric, pairs in capture_all if metric == "AcknowledgementLatency"}
    assert frozenset({("Scope", "AllTriggers"), ("service", SERVICE)}) in latency


_: Callable[..., Any] = front  # the worker stack's fixture, imported for pytest
