"""Resending a test event after changing a handler runs the handler again (local stack, over HTTP):
the trigger's sample payload is never absorbed as a duplicate; a real event sent twice is."""

from __future__ import annotations

import copy
import json
import os
import time
from typing import Any

import boto3
import pytest
import requests

from idn_local.demo import subscriptions_manager
from idn_local.runner import LocalRunner
from idn_triggers.subscriptions import SubscriptionSpec
from tests.e2e.conftest import E2E_BEARER
from tests.support import trigger_document

pytestmark = pytest.mark.e2e
TRIGGER = "idn:identity-created"


def recorded_runs(local: LocalRunner) -> int:
    """How many distinct keys the worker's idempotency recorded (Powertools stores them hashed)."""
    table = os.environ["IDEMPOTENCY_TABLE"]
    items = boto3.client("dynamodb", endpoint_url=local.aws_endpoint).scan(TableName=table)["Items"]
    return len(items)


def wait_for_runs(local: LocalRunner, count: int, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while (runs := recorded_runs(local)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return runs


def post(local: LocalRunner, body: dict[str, Any]) -> int:
    response = requests.post(
        local.webhook_url(TRIGGER),
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {E2E_BEARER}", "Content-Type": "application/json"},
        timeout=10,
    )
    return response.status_code


def test_test_invocations_of_the_sample_each_run_and_a_real_event_twice_runs_once(local: LocalRunner) -> None:
    assert local.tenant is not None
    subscription = subscriptions_manager(local).apply([SubscriptionSpec(trigger_id=TRIGGER, mode="SYNC")])
    before = recorded_runs(local)

    for _ in range(2):  # what `idn-triggers invoke-test idn:identity-created` sends, twice
        local.tenant.test_invocation(TRIGGER, None, [subscription[TRIGGER]])
    samples = wait_for_runs(local, before + 2)
    real = copy.deepcopy(trigger_document(TRIGGER)["exampleInput"])
    real["identity"]["id"] = "a-real-identity-seen-twice"
    statuses = [post(local, real), post(local, copy.deepcopy(real))]
    time.sleep(1)  # give a (wrong) second run of the real event the time to be recorded
    after = wait_for_runs(local, before + 4, timeout=3)

    assert samples == before + 2  # each test invocation of the sample ran
    assert statuses == [200, 200]
    assert after == before + 3  # and the real event sent twice ran once
