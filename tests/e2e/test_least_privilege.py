"""Least privilege, both ways: what each function used while its paths ran in local mode (recorded
by moto's checks, idn_local.iam) against what its template role grants.

Every grant no path exercised must be in UNEXERCISED with the reason it stays; an entry a path does
exercise is stale and fails too. The README's table is rendered from the same data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from idn_local import iam
from idn_local.demo import run_demo
from idn_local.iam_roles import FunctionRole, function_roles
from idn_local.runner import LocalRunner
from tests.e2e import test_iam_mutations as paths
from tests.support import ROOT

pytestmark = pytest.mark.e2e
LOGS = "AWSLambdaBasicExecutionRole: the Lambda runtime writes the logs; local mode logs to stderr"
XRAY = "AWSXrayWriteOnlyAccess, for `Tracing: Active`; local mode runs with tracing off"
ASYNC_FAILURE = (
    "on AsyncFailureQueue, EventInvokeConfig's on-failure destination: Lambda sends a failed "
    "asynchronous invocation there with the role; local mode has no asynchronous failures"
)
# (function, action) -> why the grant stays although no local path uses it.
UNEXERCISED: dict[tuple[str, str], str] = {
    **{
        (f, a): LOGS
        for f in (
            "ReceiverFunction",
            "WorkerFunction",
            "TokenRefresherFunction",
            "CredentialRotatorFunction",
            "SubscriptionsFunction",
            "ReconcilerFunction",
        )
        for a in ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
    },
    **{
        (f, a): XRAY
        for f in (
            "ReceiverFunction",
            "WorkerFunction",
            "TokenRefresherFunction",
            "CredentialRotatorFunction",
            "SubscriptionsFunction",
            "ReconcilerFunction",
        )
        for a in (
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "xray:GetSamplingRules",
            "xray:GetSamplingTargets",
            "xray:GetSamplingStatisticSummaries",
        )
    },
    **{
        (f, "sqs:SendMessage"): ASYNC_FAILURE for f in ("TokenRefresherFunction", "CredentialRotatorFunction")
    },
    ("SubscriptionsFunction", "sqs:SendMessage"): ASYNC_FAILURE,
    ("WorkerFunction", "dynamodb:DeleteItem"): (
        "Powertools idempotency deletes the in-progress record when a handler raises or its outcome is "
        "dead-lettered, so a retry or a redrive runs it (tests/e2e/test_redrive_local.py); these paths "
        "dead-letter nothing"
    ),
    ("WorkerFunction", "sqs:ChangeMessageVisibility"): (
        "backoff when a completion at SailPoint fails with 429 or 5xx; no callback fails here"
    ),
    ("ReconcilerFunction", "dynamodb:DeleteItem"): (
        "gives a claim back when queuing a recovered event fails, so the next pass retries it; no send "
        "fails here"
    ),
    ("WorkerFunction", "sqs:GetQueueAttributes"): (
        "AWSLambdaSQSQueueExecutionRole, for the SQS event source mapping; local mode's poller reads "
        "no queue attributes"
    ),
}


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRunner]:
    with paths.running_stack() as runner:
        yield runner


catcher = paths.catcher  # the custom resource's ResponseURL


def exercise_every_path(local: LocalRunner, response_url: str) -> None:
    """What the e2e suite does, compactly: the demo (SYNC, ASYNC, DYNAMIC, fire-and-forget,
    EventBridge; archive), a token refresh, a credential rotation, a recovery pass, a dead letter
    and the subscriptions custom resource."""
    run_demo(local)
    assert paths.token_refresh(local, response_url) == "ok"
    local.rotate_inbound_credential()
    assert paths.reconciler_pass(local, response_url) == "ok"
    assert paths.worker_dead_letter(local, response_url) == "ok"
    assert paths.worker_idempotency(local, response_url) == "ok"
    assert paths.subscriptions_resource(local, response_url) == "ok"
    assert event_bridge_subscriptions(local, response_url) == ["SUCCESS", "SUCCESS"]


def event_bridge_subscriptions(local: LocalRunner, response_url: str) -> list[str]:
    """The custom resource with SubscriptionType EVENTBRIDGE: created (partner bus, rule, target),
    then deleted."""
    assert local.stack is not None
    owner = f"{local.stack.stack_name}-least-privilege"
    properties = {
        "SubscriptionType": "EVENTBRIDGE",
        "AwsAccount": "123456789012",
        "AwsRegion": "us-east-1",
        "Owner": owner,
        "EnabledTriggers": "*",
        "WorkQueueArn": local.stack.attributes[("WorkQueue", "Arn")],
        "EventsDeadLetterQueueArn": local.stack.attributes[("EventsDeadLetterQueue", "Arn")],
        "SourceWaitSeconds": "10",
        "TriggerIds": paths.CREATED,
        "ResponseMode": "SYNC",
        "ResponseDeadline": "PT1H",
        "Enabled": "true",
    }
    statuses = []
    for request, physical_id in (("Create", None), ("Delete", f"eventbridge:123456789012:us-east-1:{owner}")):
        paths.ResponseCatcher.answers.clear()
        event = {
            "RequestType": request,
            "ResponseURL": response_url,
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/local/1",
            "RequestId": request,
            "ResourceType": "Custom::SailPointSubscriptions",
            "LogicalResourceId": "Subscriptions",
            "ResourceProperties": properties,
            **({"PhysicalResourceId": physical_id} if physical_id else {}),
        }
        local.functions["SubscriptionsFunction"].invoke(event)
        answer = paths.ResponseCatcher.answers[-1]
        statuses.append(answer["Status"] if answer["Status"] == "SUCCESS" else answer["Reason"])
    return statuses


def granted(role: FunctionRole) -> set[str]:
    return role.granted_actions()


def table(roles: dict[str, FunctionRole], used: dict[str, dict[str, Any]]) -> str:
    """The README's table: per function, the actions its paths used, and each grant no path used
    with why it stays (the managed logs and X-Ray grants of every function: one line below it)."""
    lines = [
        "| Function | Used by the e2e paths | Granted, not used locally: why it stays |",
        "|---|---|---|",
    ]
    for function in sorted(roles):
        exercised = sorted(used.get(function, {}))
        idle = sorted(
            a
            for a in granted(roles[function]) - set(exercised)
            if UNEXERCISED.get((function, a)) not in (LOGS, XRAY)
        )
        why = "<br>".join(f"`{a}`: {UNEXERCISED.get((function, a), 'UNJUSTIFIED')}" for a in idle)
        lines.append(f"| {function} | {', '.join(f'`{a}`' for a in exercised)} | {why or '-'} |")
    lines += ["", f"Every function also has `logs:*` ({LOGS}) and `xray:*` ({XRAY})."]
    return "\n".join(lines)


def test_every_grant_is_used_by_a_path_or_justified(local: LocalRunner, catcher: str) -> None:
    # Given every function's template role, enforced
    assert local.stack is not None
    roles = function_roles(local.stack)

    # When every local path runs
    denied_before = len(iam.denials())
    exercise_every_path(local, catcher)
    used = iam.used_actions(local.aws_endpoint)
    assert iam.denials()[denied_before:] == []

    # Then every grant was used or is justified, and no justification is stale
    unjustified = {
        (function, action)
        for function, role in roles.items()
        for action in granted(role) - set(used.get(function, {}))
        if (function, action) not in UNEXERCISED
    }
    assert not unjustified, f"granted, never used, no reason given: {sorted(unjustified)}"
    stale = {(f, a) for (f, a) in UNEXERCISED if a in used.get(f, {})}
    assert not stale, f"used after all, remove from UNEXERCISED: {sorted(stale)}"
    # And the README shows this table
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rendered = table(roles, used)
    assert rendered in readme, "README's least-privilege table is out of date:\n" + rendered
