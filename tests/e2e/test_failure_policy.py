"""The failure policy end to end in local mode: what SailPoint (the simulator) receives when a
pre-approval handler raises or runs past its time, under a configured fallback answer.

The watchdog is shortened to 1 s here (HandlerAnswerSeconds) so the 12 s handler does not dominate
the suite; the deployed default (6 s of SailPoint's 10) is asserted in test_template.py."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from idn_simulator import InvocationRecord, InvocationState
from idn_triggers.handlers import HandlerRegistry
from tests.e2e.policy_handlers import access_request_pre_approval as handler

PRE = "idn:access-request-pre-approval"
TOKEN = "e2e-policy-token"
FALLBACK = {"approved": False, "comment": "approval service unavailable: denied", "approver": "fallback"}
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRunner]:
    options = LocalOptions(
        port=0,
        auth=InboundAuth.parse(f"bearer:{TOKEN}"),
        parameter_overrides={
            "FailurePolicies": json.dumps({PRE: FALLBACK}),
            "HandlerAnswerSeconds": "1",
            "MaxReceiveCount": "2",
        },
    )
    runner = LocalRunner(options).start()
    registry = HandlerRegistry("tests.e2e.policy_handlers")  # this test's handlers, not the templates
    sys.modules["local_fn_ReceiverFunction"].receiver.registry = registry
    sys.modules["local_fn_WorkerFunction"].worker.registry = registry
    yield runner
    handler.RELEASE.set()
    runner.stop()


@pytest.fixture(autouse=True)
def answering_handler() -> Iterator[None]:
    handler.RELEASE.clear()
    yield
    handler.BEHAVIOUR["mode"] = "answer"
    handler.RELEASE.set()  # a sleeping handler's thread ends now, not 12 s later


def subscribe(local: LocalRunner, mode: str) -> None:
    assert local.tenant is not None
    for existing in local.tenant.list_subscriptions():
        local.tenant.delete_subscription(existing["id"])
    local.tenant.create_subscription(
        {
            "name": f"policy {mode}",
            "triggerId": PRE,
            "type": "HTTP",
            "enabled": True,
            "responseDeadline": "PT1H",
            "httpConfig": {
                "url": local.webhook_url(PRE),
                "httpDispatchMode": mode,
                "httpAuthenticationType": "BEARER_TOKEN",
                "bearerTokenAuthConfig": {"bearerToken": TOKEN},
            },
        }
    )


def fire_and_settle(local: LocalRunner, timeout: float = 30) -> InvocationRecord:
    [record] = local.simulator.fire_event(PRE, None)
    return local.simulator.wait_for_invocation(lambda r: r.id == record.id and r.settled, timeout=timeout)


def test_a_sync_handler_that_raises_answers_the_fallback(local: LocalRunner) -> None:
    subscribe(local, "SYNC")
    handler.BEHAVIOUR["mode"] = "raise"

    record = fire_and_settle(local)

    assert record.state is InvocationState.COMPLETED, record.failure
    assert record.delivery is not None and record.delivery.status == 200
    assert record.output == FALLBACK


def test_a_sync_handler_that_sleeps_12_s_is_answered_the_fallback_inside_sailpoints_budget(
    local: LocalRunner,
) -> None:
    subscribe(local, "SYNC")
    handler.BEHAVIOUR["mode"] = "sleep"

    record = fire_and_settle(local)

    # the simulator gives up on a delivery after SailPoint's 10 s: an answer means it came in time
    assert record.state is InvocationState.COMPLETED, record.failure
    assert record.delivery is not None and record.delivery.status == 200
    assert record.output == FALLBACK
    assert not handler.RELEASE.is_set()  # the handler was still asleep when SailPoint got its answer


def test_an_async_handler_that_keeps_raising_is_completed_with_the_fallback(local: LocalRunner) -> None:
    subscribe(local, "ASYNC")
    handler.BEHAVIOUR["mode"] = "raise"

    record = fire_and_settle(local)

    assert record.state is InvocationState.COMPLETED, record.failure
    assert record.completed_via == "callback"
    assert record.output == FALLBACK
    assert record.completed is not None and record.deadline is not None and record.completed < record.deadline


def test_a_handler_that_answers_is_not_affected_by_the_policy(local: LocalRunner) -> None:
    subscribe(local, "SYNC")

    record = fire_and_settle(local)

    assert record.output == {"approved": True, "comment": "handler answered", "approver": "policy-test"}
