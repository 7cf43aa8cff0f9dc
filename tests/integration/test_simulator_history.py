"""The simulator's invocation history as a tenant keeps it: retention on a clock tests move, the
fault switch that makes deliveries fail, and what a failed entry says (over HTTP)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from idn_simulator import InvocationState, TenantSimulator
from tests.integration.conftest_simulator import (
    IDENTITY_CHANGED,
    Client,
    Receiver,
    http_subscription,
    running_receiver,
)

EVENT = {"identity": {"id": "7", "name": "rufus", "type": "IDENTITY"}, "changes": []}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def client(sim: TenantSimulator, receiver: Receiver) -> Iterator[Client]:
    api = Client(sim)
    assert api.post("/trigger-subscriptions/v1", json=http_subscription(IDENTITY_CHANGED, receiver.url)).ok
    yield api
    api.close()


def fire(sim: TenantSimulator) -> str:
    response = requests.post(
        f"{sim.url}/_sim/events", json={"triggerId": IDENTITY_CHANGED, "input": EVENT}, timeout=5
    )
    invocation: str = response.json()[0]["id"]
    sim.wait_for_invocation(invocation)
    return invocation


def history(client: Client) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in client.get("/trigger-invocations/v1/status").json()}


def faults(sim: TenantSimulator, spec: dict[str, Any]) -> requests.Response:
    return requests.post(f"{sim.url}/_sim/faults", json={"deliveries": spec}, timeout=5)


def advance(sim: TenantSimulator, seconds: float) -> dict[str, Any]:
    response = requests.post(f"{sim.url}/_sim/clock", json={"advanceSeconds": seconds}, timeout=5)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_refused_delivery_never_reaches_the_subscriber_and_fails_with_a_localized_error(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    assert faults(sim, {"count": 1, "status": 503}).ok
    invocation = fire(sim)
    entry = history(client)[invocation]
    assert receiver.received == []
    assert entry["type"] == "REAL_TIME" and entry["startInvocationInput"]["input"] == EVENT
    assert entry["completeInvocationInput"]["localizedError"]["message"] == "subscriber answered 503"
    assert entry["completed"]


def test_a_share_of_deliveries_fails_while_the_switch_is_on(sim: TenantSimulator, client: Client) -> None:
    assert faults(sim, {"rate": 0.5, "reset": True, "seed": 3}).ok
    states = [sim.invocation(fire(sim)).state for _ in range(40)]
    assert 8 <= states.count(InvocationState.FAILED) <= 32
    sim.fail_deliveries(0)
    assert sim.invocation(fire(sim)).state is InvocationState.COMPLETED


def test_a_delivered_but_timed_out_invocation_reached_the_subscriber_and_failed(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    assert faults(sim, {"count": 1, "delivered": True}).ok
    invocation = fire(sim)
    assert receiver.wait_for(1)[0].body == EVENT
    record = sim.invocation(invocation)
    assert record.state is InvocationState.FAILED and record.failure == "delivery failed: ReadTimeout"


def test_delivered_is_refused_outside_the_deliveries_scope(sim: TenantSimulator) -> None:
    response = requests.post(f"{sim.url}/_sim/faults", json={"requests": {"delivered": True}}, timeout=5)
    assert response.status_code == 400
    assert "deliveries scope only" in response.json()["messages"][0]["text"]


def test_successes_are_kept_24_hours_and_failures_48(sim: TenantSimulator, client: Client) -> None:
    succeeded = fire(sim)
    sim.fail_deliveries(1.0, status=500)
    failed = fire(sim)
    sim.fail_deliveries(0)
    advance(sim, 24 * 3600 + 1)
    assert set(history(client)) == {failed}
    advance(sim, 24 * 3600)
    assert history(client) == {}
    assert succeeded not in history(client)


def test_the_clock_moves_timestamps_too(sim: TenantSimulator, client: Client) -> None:
    moved = advance(sim, -3600)
    assert moved["offsetSeconds"] == -3600
    invocation = fire(sim)
    created = datetime.fromisoformat(history(client)[invocation]["created"].replace("Z", "+00:00"))
    assert abs(created - (datetime.now(UTC) - timedelta(hours=1))) < timedelta(minutes=1)


def test_the_clock_refuses_what_is_not_a_number(sim: TenantSimulator) -> None:
    response = requests.post(f"{sim.url}/_sim/clock", json={"advanceSeconds": "1h"}, timeout=5)
    assert response.status_code == 400


def test_history_pages_newest_first_with_limit_and_offset(sim: TenantSimulator, client: Client) -> None:
    ids = []
    for _ in range(5):
        ids.append(fire(sim))
        time.sleep(0.002)  # distinct created timestamps (millisecond precision)
    pages = [
        client.get(
            "/trigger-invocations/v1/status", params={"sorters": "-created", "limit": 2, "offset": offset}
        ).json()
        for offset in (0, 2, 4)
    ]
    assert [item["id"] for page in pages for item in page] == list(reversed(ids))
