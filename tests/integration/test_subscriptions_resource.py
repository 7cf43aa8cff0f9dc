"""The subscriptions custom resource against the tenant simulator, with CloudFormation's response
captured by a local server standing in for the pre-signed ResponseURL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests

from idn_simulator import TenantSimulator
from tests.integration.conftest_simulator import CLIENT_ID, CLIENT_SECRET, fetch_token
from tests.support import FakeLambdaContext, load_function

BASE = "https://abc.execute-api.us-east-1.amazonaws.com/v1/triggers/"
PRE = "idn:access-request-pre-approval"
CREATED = "idn:identity-created"


class CloudFormation(ThreadingHTTPServer):
    """Receives the PUT of each response document."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.responses: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/response"


class _Handler(BaseHTTPRequestHandler):
    server: CloudFormation

    def log_message(self, *args: Any) -> None:
        return

    def do_PUT(self) -> None:
        self.server.responses.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def cloudformation() -> Iterator[CloudFormation]:
    server = CloudFormation()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def resource(aws: str, sim: TenantSimulator, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return cold_start(sim, monkeypatch)


def cold_start(sim: TenantSimulator, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The subscriptions function, configured for this simulator (secrets in moto)."""
    sm = boto3.client("secretsmanager")
    inbound = sm.create_secret(Name="inbound", SecretString=json.dumps({"bearerToken": "inbound-token"}))[
        "ARN"
    ]
    client = sm.create_secret(
        Name="client", SecretString=json.dumps({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET})
    )
    token = sm.create_secret(Name="token", SecretString="{}")
    for key, value in {
        "TENANT_API_URL": sim.url,
        "INBOUND_AUTH_TYPE": "BEARER_TOKEN",
        "INBOUND_SECRET_ID": inbound,
        "SAILPOINT_CLIENT_SECRET_ID": client["ARN"],
        "TOKEN_SECRET_ID": token["ARN"],
    }.items():
        monkeypatch.setenv(key, value)
    return load_function("subscriptions")


def event(
    cloudformation: CloudFormation, request: str, physical_id: str | None = None, **properties: str
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "RequestType": request,
        "ResponseURL": cloudformation.url,
        "StackId": "arn:aws:cloudformation:stack/s",
        "RequestId": f"req-{len(cloudformation.responses)}",
        "LogicalResourceId": "Subscriptions",
        "ResourceType": "Custom::SailPointSubscriptions",
        "ResourceProperties": {
            "ServiceToken": "arn",
            "WebhookBaseUrl": BASE,
            "ResponseMode": "SYNC",
            "ResponseDeadline": "PT1H",
            "Filter": "",
            "Enabled": "true",
            **properties,
        },
    }
    if physical_id:
        body["PhysicalResourceId"] = physical_id
    return body


class FullTime(FakeLambdaContext):
    """A fresh invocation of the 900 s function (template.yaml), as CloudFormation makes it."""

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


def call(resource: ModuleType, cloudformation: CloudFormation, *args: Any, **kwargs: str) -> dict[str, Any]:
    before = len(cloudformation.responses)
    resource.lambda_handler(event(cloudformation, *args, **kwargs), FullTime())
    assert len(cloudformation.responses) == before + 1  # exactly one answer, whatever happened
    return cloudformation.responses[-1]


def ours(sim: TenantSimulator) -> dict[str, Any]:
    return {
        s.trigger_id: s for s in sim.subscriptions() if (s.http_config or {}).get("url", "").startswith(BASE)
    }


def test_create_update_delete(
    resource: ModuleType, cloudformation: CloudFormation, sim: TenantSimulator
) -> None:
    # Create: both triggers subscribed, sending the inbound credential from the secret
    created = call(resource, cloudformation, "Create", TriggerIds=f"{CREATED}, {PRE}", ResponseMode="ASYNC")
    assert created["Status"] == "SUCCESS" and created["PhysicalResourceId"] == BASE
    subscriptions = ours(sim)
    assert set(subscriptions) == {CREATED, PRE}
    config = subscriptions[PRE].http_config
    assert config is not None and config["url"] == BASE + PRE and config["httpDispatchMode"] == "ASYNC"
    assert config["bearerTokenAuthConfig"] == {"bearerToken": "inbound-token"}
    kept_id = subscriptions[CREATED].id
    # Update: one trigger removed, a filter added, the other PATCHed in place
    updated = call(
        resource,
        cloudformation,
        "Update",
        BASE,
        TriggerIds=CREATED,
        Filter="$[?($.identity.id)]",
        Enabled="false",
    )
    assert updated["Status"] == "SUCCESS"
    subscriptions = ours(sim)
    assert set(subscriptions) == {CREATED}
    assert subscriptions[CREATED].id == kept_id
    assert subscriptions[CREATED].filter == "$[?($.identity.id)]" and subscriptions[CREATED].enabled is False
    # Delete, then delete again (already missing): both succeed
    assert call(resource, cloudformation, "Delete", BASE, TriggerIds=CREATED)["Status"] == "SUCCESS"
    assert ours(sim) == {}
    assert call(resource, cloudformation, "Delete", BASE, TriggerIds=CREATED)["Status"] == "SUCCESS"


def test_a_request_response_trigger_taken_by_someone_else_fails_with_its_name(
    resource: ModuleType, cloudformation: CloudFormation, sim: TenantSimulator
) -> None:
    body = {
        "name": "the other integration",
        "triggerId": PRE,
        "type": "HTTP",
        "enabled": True,
        "httpConfig": {
            "url": "https://other.example.com/hook",
            "httpDispatchMode": "SYNC",
            "httpAuthenticationType": "NO_AUTH",
        },
    }
    requests.post(
        f"{sim.url}/trigger-subscriptions/v1",
        json=body,
        timeout=5,
        headers={"Authorization": f"Bearer {fetch_token(sim)}"},
    ).raise_for_status()
    failed = call(resource, cloudformation, "Create", TriggerIds=PRE)
    assert failed["Status"] == "FAILED"
    assert "the other integration" in failed["Reason"] and "allows one subscription" in failed["Reason"]
    assert ours(sim) == {}


def test_a_tenant_outage_fails_the_resource_instead_of_hanging(
    resource: ModuleType, cloudformation: CloudFormation, sim: TenantSimulator
) -> None:
    sim.faults.fail_next_requests(20, status=503)
    failed = call(resource, cloudformation, "Create", TriggerIds=CREATED)
    assert failed["Status"] == "FAILED" and "503" in failed["Reason"]
    assert "inbound-token" not in json.dumps(failed) and CLIENT_SECRET not in json.dumps(failed)


def test_bad_properties_fail_clearly(resource: ModuleType, cloudformation: CloudFormation) -> None:
    failed = call(resource, cloudformation, "Create", TriggerIds=CREATED, ResponseMode="SOMETIMES")
    assert failed["Status"] == "FAILED" and "mode" in failed["Reason"]


# -- EVENTBRIDGE subscriptions and partner buses ----------------------------------------------------
ACCOUNT, REGION, OWNER = "123456789012", "us-east-1", "stack-eb"
WORK_QUEUE, EVENTS_DLQ = "work", "events-dlq"


def arn(queue: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"


EB = {
    "SubscriptionType": "EVENTBRIDGE",
    "AwsAccount": ACCOUNT,
    "AwsRegion": REGION,
    "Owner": OWNER,
    "EnabledTriggers": "*",
    "WorkQueueArn": arn(WORK_QUEUE),
    "EventsDeadLetterQueueArn": arn(EVENTS_DLQ),
    "SourceWaitSeconds": "5",
}


@pytest.fixture
def eb_sim(aws: str) -> Iterator[TenantSimulator]:
    """A simulator that creates partner sources and puts events in moto (bridged: idn_local.moto_bridges)."""
    from idn_local import moto_bridges
    from tests.integration.conftest_simulator import running_simulator

    moto_bridges.apply()
    with running_simulator(aws_endpoint_url=aws) as simulator:
        yield simulator


@pytest.fixture
def eb_resource(eb_sim: TenantSimulator, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    for queue in (WORK_QUEUE, EVENTS_DLQ):
        boto3.client("sqs").create_queue(QueueName=queue)
    return cold_start(eb_sim, monkeypatch)


def bridged(sim: TenantSimulator) -> dict[str, Any]:
    return {s.trigger_id: s for s in sim.subscriptions() if s.type == "EVENTBRIDGE"}


def test_eventbridge_subscriptions_are_created_associated_routed_and_removed(
    eb_resource: ModuleType, cloudformation: CloudFormation, eb_sim: TenantSimulator
) -> None:
    from idn_triggers.eventbridge import partner_source_name

    events, sqs = boto3.client("events"), boto3.client("sqs")
    # Create: the subscription delivers to this account and region; its source gets a bus and a rule
    created = call(eb_resource, cloudformation, "Create", TriggerIds=CREATED, **EB)
    assert created["Status"] == "SUCCESS", created["Reason"]
    assert created["PhysicalResourceId"] == f"eventbridge:{ACCOUNT}:{REGION}:{OWNER}"
    (subscription,) = bridged(eb_sim).values()
    assert subscription.event_bridge_config == {"awsAccount": ACCOUNT, "awsRegion": REGION}
    source = partner_source_name(subscription.id, CREATED)
    assert events.describe_event_bus(Name=source)["Name"] == source
    (rule,) = events.list_rules(EventBusName=source)["Rules"]
    (target,) = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=source)["Targets"]
    assert target["Arn"] == arn(WORK_QUEUE) and target["DeadLetterConfig"] == {"Arn": arn(EVENTS_DLQ)}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    # and an invocation reaches the work queue in the documented envelope
    eb_sim.fire_event(CREATED)
    queue = sqs.get_queue_url(QueueName=WORK_QUEUE)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5).get("Messages", [])
    body = json.loads(messages[0]["Body"])
    assert body["detail-type"] == CREATED and body["source"] == source
    assert body["detail"]["_metadata"]["triggerId"] == CREATED and body["detail"]["_metadata"]["invocationId"]
    # Update: PATCHed in place
    updated = call(
        eb_resource,
        cloudformation,
        "Update",
        created["PhysicalResourceId"],
        TriggerIds=CREATED,
        Filter="$[?($.identity.id)]",
        **EB,
    )
    assert updated["Status"] == "SUCCESS"
    assert bridged(eb_sim)[CREATED].id == subscription.id and bridged(eb_sim)[CREATED].filter
    # Delete: rule, bus and subscription gone
    deleted = call(
        eb_resource, cloudformation, "Delete", created["PhysicalResourceId"], TriggerIds=CREATED, **EB
    )
    assert deleted["Status"] == "SUCCESS"
    assert bridged(eb_sim) == {}
    assert [b["Name"] for b in events.list_event_buses()["EventBuses"] if b["Name"] == source] == []


def test_a_partner_source_that_never_appears_fails_the_deploy_clearly_and_leaves_nothing(
    resource: ModuleType, cloudformation: CloudFormation, sim: TenantSimulator
) -> None:
    # Given a tenant that creates no partner source (the simulator has no AWS endpoint)
    failed = call(resource, cloudformation, "Create", TriggerIds=CREATED, **{**EB, "SourceWaitSeconds": "1"})
    # Then CloudFormation is told which source did not appear and what to check
    assert failed["Status"] == "FAILED"
    assert "did not appear within 1 s" in failed["Reason"] and "eventBridgeConfig" in failed["Reason"]
    assert [s for s in sim.subscriptions() if s.type == "EVENTBRIDGE"] == []


def test_partner_sources_listed_in_the_template_are_associated_and_removed(
    eb_resource: ModuleType, cloudformation: CloudFormation, eb_sim: TenantSimulator
) -> None:
    from idn_triggers.eventbridge import partner_source_name

    events = boto3.client("events")
    source = partner_source_name("made-by-hand", CREATED)
    events.create_partner_event_source(Name=source, Account=ACCOUNT)
    listed = {
        "SourceNames": source,
        "Owner": OWNER,
        "EnabledTriggers": f"{CREATED},{PRE}",
        "WorkQueueArn": arn(WORK_QUEUE),
        "EventsDeadLetterQueueArn": arn(EVENTS_DLQ),
    }

    def partner_buses(request: str, physical_id: str | None = None, **properties: str) -> dict[str, Any]:
        body = event(cloudformation, request, physical_id)
        body.update(ResourceType="Custom::SailPointPartnerEventBuses", ResourceProperties=properties)
        before = len(cloudformation.responses)
        eb_resource.lambda_handler(body, FakeLambdaContext())
        assert len(cloudformation.responses) == before + 1
        return cloudformation.responses[-1]

    created = partner_buses("Create", **listed)
    assert created["Status"] == "SUCCESS", created["Reason"]
    (rule,) = events.list_rules(EventBusName=source)["Rules"]
    assert json.loads(rule["EventPattern"])["detail-type"] == sorted([CREATED, PRE])
    unknown = partner_buses("Create", **{**listed, "SourceNames": partner_source_name("nope", CREATED)})
    assert unknown["Status"] == "FAILED" and "does not exist in this account and region" in unknown["Reason"]
    assert partner_buses("Delete", created["PhysicalResourceId"], **listed)["Status"] == "SUCCESS"
    assert source not in [b["Name"] for b in events.list_event_buses()["EventBuses"]]


class ShortOnTime(FakeLambdaContext):
    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 20_000


def test_a_wait_longer_than_the_time_left_is_cut_short_and_still_answered(
    resource: ModuleType, cloudformation: CloudFormation, sim: TenantSimulator
) -> None:
    # CloudFormation "Custom resources": no answer before the function times out means an hour's wait
    # (ServiceTimeout shortens it); so the function waits only as long as it can still answer.
    body = event(cloudformation, "Create", TriggerIds=CREATED, **{**EB, "SourceWaitSeconds": "600"})
    resource.lambda_handler(body, ShortOnTime())
    [answer] = cloudformation.responses
    assert answer["Status"] == "FAILED" and "cut short" in answer["Reason"]
    assert [s for s in sim.subscriptions() if s.type == "EVENTBRIDGE"] == []  # nothing left behind


# -- updates that replace the resource: URL, stage, transport (issue 26, item 5) --------------------
# CloudFormation "Custom resources": a new physical id on Update replaces the resource, and the old
# one gets a Delete after the update; SailPoint allows one subscription per request-response trigger.
def update(
    cloudformation: CloudFormation, old: dict[str, Any], physical_id: str, **properties: str
) -> dict[str, Any]:
    body = event(cloudformation, "Update", physical_id, **properties)
    body["OldResourceProperties"] = old["ResourceProperties"]
    return body


def replaced(
    resource: ModuleType, cloudformation: CloudFormation, created: dict[str, Any], **properties: str
) -> dict[str, Any]:
    """The Update, then the Delete of the old physical id CloudFormation sends after it."""
    first = event(cloudformation, "Create", **created)
    resource.lambda_handler(first, FullTime())
    old_id = cloudformation.responses[-1]["PhysicalResourceId"]
    resource.lambda_handler(update(cloudformation, first, old_id, **properties), FullTime())
    answer = cloudformation.responses[-1]
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["PhysicalResourceId"] != old_id
    cleanup = event(cloudformation, "Delete", old_id, **created)
    resource.lambda_handler(cleanup, FullTime())
    assert cloudformation.responses[-1]["Status"] == "SUCCESS"
    return answer


@pytest.mark.parametrize(
    "new_base",
    [
        "https://abc.execute-api.us-east-1.amazonaws.com/v2/triggers/",  # StageName
        "https://hooks.example.com/triggers/",  # PublicWebhookBaseUrl
    ],
)
def test_a_new_url_moves_the_subscriptions_including_request_response_ones(
    resource: ModuleType, cloudformation: CloudFormation, sim: TenantSimulator, new_base: str
) -> None:
    triggers = f"{PRE},{CREATED}"
    replaced(resource, cloudformation, {"TriggerIds": triggers}, TriggerIds=triggers, WebhookBaseUrl=new_base)
    subscriptions = [s for s in sim.subscriptions() if s.type == "HTTP"]
    assert sorted((s.trigger_id, (s.http_config or {})["url"]) for s in subscriptions) == [
        (PRE, new_base + PRE),
        (CREATED, new_base + CREATED),
    ]


def test_a_new_transport_replaces_http_subscriptions_with_eventbridge_ones(
    eb_resource: ModuleType, cloudformation: CloudFormation, eb_sim: TenantSimulator
) -> None:
    replaced(eb_resource, cloudformation, {"TriggerIds": PRE}, TriggerIds=PRE, **EB)
    assert [(s.trigger_id, s.type) for s in eb_sim.subscriptions()] == [(PRE, "EVENTBRIDGE")]


def test_function_configurations_answer_a_digest_per_function_that_follows_its_values(
    resource: ModuleType, cloudformation: CloudFormation
) -> None:
    def digests(log_level: str) -> dict[str, Any]:
        body = event(cloudformation, "Update", "function-configurations")
        body["ResourceType"] = "Custom::FunctionConfigurations"
        body["ResourceProperties"] = {
            "ServiceToken": "arn",
            "Receiver": {"SnapStart": "false", "Environment": {"POWERTOOLS_LOG_LEVEL": log_level}},
            "Worker": {"SnapStart": "false", "Environment": {"MAX_RECEIVE_COUNT": "3"}},
        }
        resource.lambda_handler(body, FullTime())
        answer = cloudformation.responses[-1]
        assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == "function-configurations"
        return dict(answer["Data"])

    info, debug = digests("INFO"), digests("DEBUG")
    assert set(info) == {"Receiver", "Worker"} and len(info["Receiver"]) == 16
    assert info["Receiver"] != debug["Receiver"] and info["Worker"] == debug["Worker"]
    assert digests("INFO") == info
