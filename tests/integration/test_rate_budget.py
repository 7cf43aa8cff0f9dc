"""The shared SailPoint budget against moto's DynamoDB over HTTP, judged by the simulator's limiter."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator

import boto3
import pytest

from idn_simulator.api_errors import ApiError
from idn_simulator.oauth import RateLimiter
from idn_triggers.rate_budget import BudgetExhausted, DynamoBudget

TABLE = "sailpoint-budget"


class FakeTime:
    """A wall clock the budget's sleeps advance (and the simulator's limiter reads)."""

    def __init__(self, start: float = 1_000.2) -> None:
        self.now = start
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


@pytest.fixture
def dynamodb(aws: str) -> Iterator[object]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield client


def budget(client: object, clock: FakeTime, *, limit: int = 100, max_wait: float = 30.0) -> DynamoBudget:
    return DynamoBudget(
        TABLE,
        lambda: "client-a",
        limit=limit,
        max_wait=max_wait,
        client=client,
        clock=clock,
        sleep=clock.sleep,
    )


def test_two_functions_share_one_clients_turns(dynamodb: object) -> None:
    clock = FakeTime()
    worker, reconciler = budget(dynamodb, clock), budget(dynamodb, clock)
    for _ in range(5):
        worker.take("/trigger-invocations/v1/abc/complete")
    for _ in range(4):
        reconciler.take("/trigger-invocations/v1/status")
    assert clock.slept == 0  # nine turns in second 1000: the quota for 100 per 10 s

    reconciler.take("/trigger-invocations/v1/status")

    assert int(clock.now) == 1001  # the tenth waited for the next second


def test_each_api_version_has_its_own_turns(dynamodb: object) -> None:
    clock = FakeTime()
    shared = budget(dynamodb, clock)
    for _ in range(9):
        shared.take("/triggers/v1")

    shared.take("/beta/triggers")

    assert clock.slept == 0


def test_a_caller_that_may_not_wait_long_enough_is_told_when_to_come_back(dynamodb: object) -> None:
    clock = FakeTime(start=1_000.5)
    impatient = budget(dynamodb, clock, limit=11, max_wait=0.2)  # one turn per second
    impatient.take("/trigger-invocations/v1/a/complete")

    with pytest.raises(BudgetExhausted) as raised:
        impatient.take("/trigger-invocations/v1/b/complete")

    assert raised.value.retry_after >= 0.5
    assert clock.slept == 0


def test_no_ten_second_window_exceeds_sailpoints_limit_whatever_the_interleaving(dynamodb: object) -> None:
    """Three containers race for 400 turns; the simulator's sliding-window limiter, on the same clock,
    judges every request as SailPoint would."""
    clock = FakeTime()
    judge = RateLimiter(100, clock=clock)
    containers = [budget(dynamodb, clock) for _ in range(3)]
    rng = random.Random(25)  # noqa: S311 - a repeatable interleaving, not a secret
    refused = 0
    for _ in range(400):
        rng.choice(containers).take("/trigger-invocations/v1/x/complete")
        clock.now += rng.choice((0.0, 0.0, 0.01, 0.3))
        try:
            judge.check("client-a:v1")
        except ApiError:
            refused += 1

    assert refused == 0
    assert clock.now - 1_000.2 >= 400 / 9 - 1  # and the turns were spread, not dropped


def test_dynamodb_trouble_fails_open_and_says_so(aws: str, service_logs: io.StringIO) -> None:
    clock = FakeTime()
    missing_table = budget(boto3.client("dynamodb", region_name="us-east-1"), clock)

    missing_table.take("/triggers/v1")

    assert "SailPoint budget unavailable" in service_logs.getvalue()
