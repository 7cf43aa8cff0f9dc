"""Jayway filter cases (tests/unit/filter_cases.json), evaluated offline and by the tenant simulator.

Each case runs twice in the same test: through ``validate_filter`` in-process, and through the
simulator's ``POST /trigger-subscriptions/v1/validate-filter`` over HTTP on loopback. Both must give
the expected ``{isValid, isValidJSONPath, isPathExist}``; unsupported syntax is an error offline
(with its position) and a 400 over HTTP, never a verdict.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from idn_simulator import SimulatorConfig, TenantSimulator
from jayway_filter import UnsupportedFilterError, validate_filter
from tests.support import trigger_document

DATA = json.loads(Path(__file__).with_name("filter_cases.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = DATA["cases"]
VERDICTS = {
    "match": (True, True, True),
    "no-match": (False, True, True),
    "path-missing": (False, True, False),
    "syntax-error": (False, False, False),
}
VALIDATE = "/trigger-subscriptions/v1/validate-filter"


def payload(name: str) -> dict[str, Any]:
    if name in DATA["payloads"]:
        value: dict[str, Any] = DATA["payloads"][name]
        return value
    trigger = trigger_document(name)
    example: dict[str, Any] = trigger["exampleInput"]
    return example


def expected_verdict(case: dict[str, Any]) -> dict[str, bool]:
    valid, valid_path, path_exists = VERDICTS[case["expect"]]
    return {
        "isValid": valid,
        "isValidJSONPath": valid_path,
        "isPathExist": case.get("isPathExist", path_exists),
    }


@pytest.fixture(scope="module")
def simulator() -> Iterator[TenantSimulator]:
    sim = TenantSimulator(SimulatorConfig(rate_limit_per_10s=None)).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def api(simulator: TenantSimulator) -> Iterator[requests.Session]:
    config = simulator.config
    response = requests.post(
        f"{simulator.url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": config.client_id,
            "client_secret": config.client_secret,
        },
        timeout=5,
    )
    response.raise_for_status()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    yield session
    session.close()


def test_the_table_covers_every_outcome() -> None:
    kinds = Counter(case["expect"] for case in CASES)

    assert len(CASES) >= 40
    assert len({case["id"] for case in CASES}) == len(CASES)
    assert set(kinds) == {*VERDICTS, "unsupported"}
    assert all("position" in case for case in CASES if case["expect"] in ("syntax-error", "unsupported"))


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_filter_case_offline_and_through_the_simulator(
    case: dict[str, Any], api: requests.Session, simulator: TenantSimulator
) -> None:
    event = payload(case["input"])

    if case["expect"] == "unsupported":
        with pytest.raises(UnsupportedFilterError) as raised:
            validate_filter(case["filter"], event)
        assert raised.value.position == case["position"], raised.value
    else:
        verdict = validate_filter(case["filter"], event)
        offline = {
            "isValid": verdict.is_valid,
            "isValidJSONPath": verdict.is_valid_json_path,
            "isPathExist": verdict.is_path_exist,
        }
        assert offline == expected_verdict(case), verdict.error
        if case["expect"] == "syntax-error":
            assert verdict.position == case["position"], verdict.error

    response = api.post(
        f"{simulator.url}{VALIDATE}", json={"input": event, "filter": case["filter"]}, timeout=5
    )

    if case["expect"] == "unsupported":
        assert response.status_code == 400, response.text
    else:
        assert response.status_code == 200, response.text
        assert response.json() == offline
