"""The simulator's random faults and connection resets, over HTTP (used by bench/soak.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import requests

from idn_simulator import SimulatorConfig, TenantSimulator
from idn_simulator.faults import Fault, Faults

CLIENT_ID, CLIENT_SECRET = "faults-client", "faults-secret"


@pytest.fixture
def sim() -> Iterator[TenantSimulator]:
    with TenantSimulator(
        SimulatorConfig(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, port=0)
    ) as simulator:
        simulator.set_rate_limit(None)
        yield simulator


def token(sim: TenantSimulator) -> str:
    answer = requests.post(
        f"{sim.url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        timeout=5,
    )
    return str(answer.json()["access_token"])


def test_a_random_rate_fails_about_that_share_of_requests_repeatably() -> None:
    faults = Faults()
    faults.set_random("completions", 0.3, [Fault(status=500), Fault(status=429, retry_after=1)], seed=7)
    first = [faults.take("completions") for _ in range(1000)]
    faults.set_random("completions", 0.3, [Fault(status=500), Fault(status=429, retry_after=1)], seed=7)
    again = [faults.take("completions") for _ in range(1000)]

    drawn = [fault for fault in first if fault is not None]
    assert first == again
    assert 250 <= len(drawn) <= 350
    assert set(Counter(fault.status for fault in drawn)) == {500, 429}
    assert faults.take("requests") is None  # other scopes untouched


def test_queued_faults_come_before_random_ones_and_clear_stops_both() -> None:
    faults = Faults()
    faults.set_random("completions", 1.0, [Fault(status=503)])
    faults.fail_next_completions(1, status=400)

    assert faults.take("completions") == Fault(status=400)
    assert faults.take("completions") == Fault(status=503)
    faults.clear()
    assert faults.take("completions") is None


@pytest.mark.parametrize(
    ("rate", "choices"),
    [(-0.1, [Fault(status=500)]), (1.5, [Fault(status=500)]), (0.5, []), (0.5, [Fault(status=302)])],
)
def test_random_faults_are_validated(rate: float, choices: list[Fault]) -> None:
    with pytest.raises(ValueError):
        Faults().set_random("completions", rate, choices)


def test_a_reset_fault_drops_the_connection_without_an_answer(sim: TenantSimulator) -> None:
    bearer = token(sim)
    sim.faults.reset_next_completions(1)
    url = f"{sim.url}/trigger-invocations/v1/unknown/complete"
    headers = {"Authorization": f"Bearer {bearer}"}

    with pytest.raises(requests.ConnectionError):
        requests.post(url, json={"secret": "s", "output": {}}, headers=headers, timeout=5)
    after = requests.post(url, json={"secret": "s", "output": {}}, headers=headers, timeout=5)

    assert after.status_code == 404  # the server goes on serving; the reset had no effect on state
    assert sim.stats.completions == 2


def test_random_resets_over_http(sim: TenantSimulator) -> None:
    bearer = token(sim)
    sim.faults.set_random("requests", 0.5, [Fault(reset=True)], seed=1)
    outcomes: Counter[str] = Counter()
    for _ in range(40):
        try:
            requests.get(
                f"{sim.url}/triggers/v1?limit=1", headers={"Authorization": f"Bearer {bearer}"}, timeout=5
            )
            outcomes["answered"] += 1
        except requests.ConnectionError:
            outcomes["reset"] += 1
    assert outcomes["answered"] and outcomes["reset"]


def test_the_admin_endpoint_queues_a_reset(sim: TenantSimulator) -> None:
    added = requests.post(f"{sim.url}/_sim/faults", json={"completions": {"reset": True}}, timeout=5)
    assert added.status_code == 200
    assert added.json()["completions"] == [
        {"status": None, "retry_after": None, "delay_seconds": 0.0, "reset": True, "delivered": False}
    ]
