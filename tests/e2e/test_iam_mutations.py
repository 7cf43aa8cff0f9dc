"""Mutation tests of the template's roles: remove one permission a function needs from a copy of
template.yaml, give the running function that role, drive the path that needs it, and expect an
authorization error naming the action; unmutated, the same path passes with no denial.

One local stack serves every case: the role's policies are replaced in moto between cases (role
sessions see the change at once), so each case costs its path only, not a stack start.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import boto3
import pytest
import requests

from idn_local import iam
from idn_local.iam_roles import function_roles
from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from idn_local.stack import load_template
from idn_triggers.catalogue import trigger_document
from tests.support import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.iam_denials_expected]  # removes grants on purpose
BEARER = "mutation-e2e-token"
CREATED = "idn:identity-created"
CHANGED = "idn:identity-attributes-changed"
PRE = "idn:access-request-pre-approval"
NO_VALUE = {"Ref": "AWS::NoValue"}
WAIT = 60.0


# -- removing a permission from a copy of the template ---------------------------------------------
def references(value: Any) -> set[str]:
    """The logical ids a policy value points at (Ref, GetAtt, ${X} in Sub)."""
    if isinstance(value, list):
        return set().union(*(references(v) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if "Ref" in value:
        return {str(value["Ref"])}
    if "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return {str(target[0] if isinstance(target, list) else target.split(".")[0])}
    return set().union(*(references(v) for v in value.values())) if value else set()


def without(policy: Any, action: str, target: str | None) -> Any:
    """`policy` minus `action` (only on `target`'s resource when given); NO_VALUE when nothing is left."""
    if isinstance(policy, dict) and "Fn::If" in policy:
        condition, when_true, when_false = policy["Fn::If"]
        return {
            "Fn::If": [condition, without(when_true, action, target), without(when_false, action, target)]
        }
    if isinstance(policy, dict) and "Statement" in policy:
        statements = [s for s in (_statement_without(s, action, target) for s in policy["Statement"]) if s]
        return {**policy, "Statement": statements} if statements else NO_VALUE
    if isinstance(policy, dict) and set(policy) == {"AWSSecretsManagerGetSecretValuePolicy"}:
        arn = policy["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]
        if action == "secretsmanager:GetSecretValue" and (target is None or target in references(arn)):
            return NO_VALUE
    return policy


def _statement_without(statement: dict[str, Any], action: str, target: str | None) -> dict[str, Any] | None:
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    if action not in actions:
        return statement
    if target is None:
        rest = [a for a in actions if a != action]
        return {**statement, "Action": rest} if rest else None
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    kept = [r for r in resources if target not in references(r)]
    return {**statement, "Resource": kept} if kept else None


def mutated_template(folder: Path, function: str, action: str, target: str | None) -> Path:
    """A copy of template.yaml (as JSON, which CloudFormation and SAM read too) without the grant."""
    template = copy.deepcopy(load_template(ROOT / "template.yaml"))
    properties = template["Resources"][function]["Properties"]
    before = json.dumps(properties["Policies"], sort_keys=True)
    properties["Policies"] = [without(p, action, target) for p in properties["Policies"]]
    assert json.dumps(properties["Policies"], sort_keys=True) != before, (
        f"{function} has no {action} to remove"
    )
    path = folder / "template.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    return path


# -- the stack and its paths ------------------------------------------------------------------------
class ResponseCatcher(BaseHTTPRequestHandler):
    """CloudFormation's pre-signed ResponseURL: keeps what a custom resource answers."""

    answers: ClassVar[list[dict[str, Any]]] = []

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.answers.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def catcher() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), ResponseCatcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/response"
    server.shutdown()


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRunner]:
    with running_stack() as runner:
        yield runner


@contextmanager
def running_stack() -> Iterator[LocalRunner]:
    """A local stack with one SYNC subscription (CHANGED) and schedules that stay out of the way."""
    options = LocalOptions(
        port=0,
        auth=InboundAuth.parse(f"bearer:{BEARER}"),
        schedule_periods={"ReconcilerFunction": 3600, "TokenRefresherFunction": 3600},
    )
    with LocalRunner(options) as runner:
        assert runner.simulator is not None and runner.tenant is not None
        runner.simulator.set_rate_limit(None)
        runner.tenant.create_subscription(
            {
                "name": "mutation changed",
                "triggerId": CHANGED,
                "type": "HTTP",
                "enabled": True,
                "httpConfig": {
                    "url": runner.webhook_url(CHANGED),
                    "httpDispatchMode": "SYNC",
                    "httpAuthenticationType": "BEARER_TOKEN",
                    "bearerTokenAuthConfig": {"bearerToken": BEARER},
                },
            }
        )
        yield runner


def wait_for(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)


def example(trigger_id: str) -> dict[str, Any]:
    """The trigger's example with a new identity id: never a duplicate of an earlier case's event."""
    payload = copy.deepcopy(trigger_document(trigger_id)["exampleInput"])
    payload["identity"]["id"] = uuid.uuid4().hex
    return dict(payload)


def post_fire_and_forget(local: LocalRunner) -> int:
    payload = example(CREATED)
    response = requests.post(
        local.webhook_url(CREATED), json=payload, headers={"Authorization": f"Bearer {BEARER}"}, timeout=10
    )
    return response.status_code


def sqs(local: LocalRunner) -> Any:
    return boto3.client("sqs", endpoint_url=local.aws_endpoint, region_name="us-east-1")


def queue_count(local: LocalRunner, logical_id: str) -> int:
    assert local.stack is not None
    attributes = sqs(local).get_queue_attributes(
        QueueUrl=local.stack.physical_ids[logical_id], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def receiver_queue_send(local: LocalRunner, _: str) -> str:
    status = post_fire_and_forget(local)
    return "ok" if status == 200 else f"receiver answered {status}"


def archive_put(local: LocalRunner, _: str) -> str:
    """A SYNC pre-approval: the receiver answers it inline and archives the answer."""
    response = requests.post(
        local.webhook_url(PRE),
        json=trigger_document(PRE)["exampleInput"],
        headers={"Authorization": f"Bearer {BEARER}"},
        timeout=10,
    )
    return (
        "ok"
        if response.status_code == 200 and archived(local)
        else f"receiver answered {response.status_code}"
    )


def archived(local: LocalRunner) -> bool:
    """Whether the newest archive record is this case's (written after it began)."""
    assert local.stack is not None
    s3 = boto3.client("s3", endpoint_url=local.aws_endpoint, region_name="us-east-1")
    listed = s3.list_objects_v2(Bucket=local.stack.physical_ids["ArchiveBucket"], Prefix="events/")
    return any(o["LastModified"].timestamp() >= _seen["started"] - 1 for o in listed.get("Contents", []))


def worker_dead_letter(local: LocalRunner, _: str) -> str:
    assert local.stack is not None
    before = queue_count(local, "DeadLetterQueue")
    sqs(local).send_message(
        QueueUrl=local.stack.physical_ids["WorkQueue"], MessageBody="not a queued invocation"
    )
    wait_for(lambda: queue_count(local, "DeadLetterQueue") > before or bool(new_denials("WorkerFunction")))
    return "ok" if queue_count(local, "DeadLetterQueue") > before else "not dead-lettered"


def worker_idempotency(local: LocalRunner, _: str) -> str:
    assert local.simulator is not None
    before = idempotency_records(local)
    records = local.simulator.fire_event(CHANGED, example(CHANGED))
    ids = {r.id for r in records}
    wait_for(lambda: all(r.settled for r in local.simulator.invocations() if r.id in ids))
    wait_for(lambda: idempotency_records(local) > before or bool(new_denials("WorkerFunction")))
    return "ok" if idempotency_records(local) > before else "not recorded"


def idempotency_records(local: LocalRunner) -> int:
    """Completed idempotency records: one per event the worker handled (each case's is new)."""
    assert local.stack is not None
    ddb = boto3.client("dynamodb", endpoint_url=local.aws_endpoint, region_name="us-east-1")
    items = ddb.scan(TableName=local.stack.physical_ids["IdempotencyTable"])["Items"]
    return sum(1 for item in items if item.get("status", {}).get("S") == "COMPLETED")


def token_refresh(local: LocalRunner, _: str) -> str:
    # an empty stored token (as admin): the refresher writes at most every 10 minutes otherwise
    assert local.stack is not None
    boto3.client("secretsmanager", endpoint_url=local.aws_endpoint, region_name="us-east-1").put_secret_value(
        SecretId=local.stack.physical_ids["AccessTokenSecret"], SecretString="{}"
    )
    try:
        local.functions["TokenRefresherFunction"].invoke({"source": "aws.events", "detail": {}})
    except Exception as error:
        return str(error)
    return "ok"


def reconciler_pass(local: LocalRunner, _: str) -> str:
    assert local.simulator is not None
    local.simulator.fail_deliveries(1.0, status=503, seed=1)
    try:
        records = local.simulator.fire_event(CHANGED, example(CHANGED))
        ids = {r.id for r in records}
        wait_for(lambda: all(r.settled for r in local.simulator.invocations() if r.id in ids))
    finally:
        local.simulator.fail_deliveries(0)
    try:
        report = local.functions["ReconcilerFunction"].invoke({"source": "aws.events", "detail": {}})
    except Exception as error:
        return str(error)
    return "ok" if report.get("found") else f"nothing found: {report}"


def subscriptions_resource(local: LocalRunner, response_url: str) -> str:
    ResponseCatcher.answers.clear()
    event = {
        "RequestType": "Create",
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/local/1",
        "RequestId": "mutation",
        "ResourceType": "Custom::SailPointSubscriptions",
        "LogicalResourceId": "Subscriptions",
        "ResourceProperties": {
            # its own base URL: the resource owns every subscription under it, and must leave the
            # fixture's subscription (the stack's webhook URL) alone
            "WebhookBaseUrl": f"{local.api_url}/custom-resource-{uuid.uuid4().hex[:8]}/",
            "TriggerIds": CREATED,
            "ResponseMode": "SYNC",
            "ResponseDeadline": "PT1H",
            "Enabled": "true",
        },
    }
    local.functions["SubscriptionsFunction"].invoke(event)
    answer = ResponseCatcher.answers[-1]
    return "ok" if answer["Status"] == "SUCCESS" else str(answer["Reason"])


@dataclass(frozen=True)
class Mutation:
    function: str
    action: str
    target: str | None  # remove the action on this resource only
    path: Callable[[LocalRunner, str], str]
    error_names_action: bool = False  # the function's own error carries AWS's message (else: the log)


MUTATIONS = {
    "receiver-queue-send": Mutation("ReceiverFunction", "sqs:SendMessage", None, receiver_queue_send),
    "worker-dlq-send": Mutation("WorkerFunction", "sqs:SendMessage", "DeadLetterQueue", worker_dead_letter),
    "worker-idempotency-write": Mutation("WorkerFunction", "dynamodb:PutItem", None, worker_idempotency),
    "token-refresher-secret-write": Mutation(
        "TokenRefresherFunction", "secretsmanager:PutSecretValue", None, token_refresh, True
    ),
    "reconciler-batch-read": Mutation(
        "ReconcilerFunction", "dynamodb:BatchGetItem", None, reconciler_pass, True
    ),
    "archive-put": Mutation("ReceiverFunction", "s3:PutObject", None, archive_put),
    "subscriptions-resource-secret-read": Mutation(
        "SubscriptionsFunction",
        "secretsmanager:GetSecretValue",
        "InboundCredentialSecret",
        subscriptions_resource,
    ),
}

_seen: dict[str, float] = {"denials": 0, "started": 0.0}


def new_denials(function: str | None = None) -> list[iam.Denial]:
    found = iam.denials()[int(_seen["denials"]) :]
    return [d for d in found if function is None or d.function == function]


@pytest.fixture
def clean(local: LocalRunner) -> Iterator[LocalRunner]:
    """The template's own roles before and after each case; denials counted from here."""
    assert local.iam is not None and local.stack is not None
    original = function_roles(local.stack)
    local.iam.apply(original)
    _seen["denials"] = len(iam.denials())
    _seen["started"] = time.time()
    yield local
    local.iam.apply(original)


@pytest.mark.parametrize("case", list(MUTATIONS))
def test_the_path_passes_with_the_templates_role(clean: LocalRunner, catcher: str, case: str) -> None:
    mutation = MUTATIONS[case]

    outcome = mutation.path(clean, catcher)

    assert outcome == "ok"
    assert not new_denials(mutation.function)


@pytest.mark.parametrize("case", list(MUTATIONS))
def test_the_path_fails_naming_the_action_without_the_permission(
    clean: LocalRunner, catcher: str, case: str, tmp_path: Path
) -> None:
    # Given the function's role from a copy of the template without the permission
    mutation = MUTATIONS[case]
    assert clean.stack is not None and clean.iam is not None
    copy_ = mutated_template(tmp_path, mutation.function, mutation.action, mutation.target)
    clean.iam.apply({mutation.function: function_roles(clean.stack, copy_)[mutation.function]})

    # When the path that needs it runs
    outcome = mutation.path(clean, catcher)
    try:
        wait_for(lambda: bool(new_denials(mutation.function)))
    except TimeoutError:
        raise AssertionError(f"no denial; the path said {outcome!r}; denials {new_denials()}") from None

    # Then the path fails, and the refusal (logged on stderr) names the action
    assert outcome != "ok"
    assert mutation.action in {d.action for d in new_denials(mutation.function)}
    if mutation.error_names_action:
        assert mutation.action in outcome
