"""Per-trigger controls against moto's DynamoDB over HTTP (the worker's side and the operator's)."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from idn_triggers.trigger_control import Parked, Rate, TriggerControls, drain, parse_rate_limits

TABLE = "trigger-controls"
T = "idn:identity-attributes-changed"


class FakeTime:
    def __init__(self, start: float = 5_000.25) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def dynamodb(aws: str) -> object:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def controls(client: object, clock: FakeTime, **options: object) -> TriggerControls:
    return TriggerControls(
        TABLE,
        client=client,
        clock=clock,
        sleep=clock.sleep,
        cache_seconds=0,
        **options,  # type: ignore[arg-type]
    )


def test_rate_limits_parse_per_second_and_per_minute() -> None:
    assert parse_rate_limits(f"{T}=5/s, idn:account-created=30/m") == {
        T: Rate(5, 1),
        "idn:account-created": Rate(30, 60),
    }
    for bad in (f"{T}=5", f"{T}=0/s", "=5/s", f"{T}=5/h"):
        with pytest.raises(ValueError, match="expected"):
            parse_rate_limits(bad)


def test_a_paused_trigger_holds_and_other_triggers_pass(dynamodb: object) -> None:
    clock = FakeTime()
    worker = controls(dynamodb, clock)
    worker.pause(T, "maintenance")

    with pytest.raises(Parked) as parked:
        worker.gate(T)
    worker.gate("idn:identity-created")

    assert parked.value.hold


def test_over_its_rate_an_event_waits_for_a_slot_one_spacing_after_the_last(dynamodb: object) -> None:
    clock = FakeTime(start=5_000.5)
    worker = controls(dynamodb, clock, rates={T: Rate(2, 60)})  # 2 a minute: one slot every 30 s
    worker.gate(T)
    worker.gate(T)  # both turns of the minute 4980-5040

    delays = []
    for _ in range(3):
        with pytest.raises(Parked) as parked:
            worker.gate(T)
        assert not parked.value.hold
        delays.append(parked.value.delay)

    assert delays == pytest.approx([39.5, 69.5, 99.5])  # the next minute's start, then 30 s apart


def test_a_turn_taken_as_the_window_ends_is_not_used_in_the_next_one(dynamodb: object) -> None:
    clock = FakeTime(start=5_000.999)

    class SlowWrite:
        def __init__(self) -> None:
            self.client = dynamodb

        def __getattr__(self, name: str) -> object:
            call = getattr(self.client, name)

            def slow(**kwargs: object) -> object:
                answer = call(**kwargs)
                clock.now += 0.01  # the write returns in the next second
                return answer

            return slow

    worker = controls(SlowWrite(), clock, rates={T: Rate(1, 1)})

    worker.gate(T)

    turns = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=TABLE, Key={"pk": {"S": f"trigger#{T}"}, "sk": {"S": "rate#5001"}}
    )
    assert int(clock.now) == 5001
    assert turns["Item"]["n"] == {"N": "1"}  # it ran on a turn of 5001, not on the spent one of 5000


def test_the_breaker_opens_after_n_consecutive_failures_and_a_success_resets_the_count(
    dynamodb: object,
) -> None:
    clock = FakeTime()
    worker = controls(dynamodb, clock, breaker_after=3)
    assert [worker.handler_failed(T), worker.handler_failed(T)] == [False, False]
    worker.handler_succeeded(T)
    assert worker.state(T).failures == 0

    opened = [worker.handler_failed(T) for _ in range(3)]

    assert opened == [False, False, True]
    assert worker.state(T).paused and worker.state(T).reason == "circuit breaker"


def test_held_events_are_released_oldest_first_and_deleted(dynamodb: object) -> None:
    clock = FakeTime()
    worker = controls(dynamodb, clock)
    for n in (2, 1, 3):
        worker.hold(T, datetime(2026, 1, 1, 0, 0, n, tzinfo=UTC), f"key-{n}", f"body-{n}")
    sent: list[str] = []

    moved = drain(worker, T, sent.append)

    assert (moved, sent) == (3, ["body-1", "body-2", "body-3"])
    assert worker.held_count(T) == 0
