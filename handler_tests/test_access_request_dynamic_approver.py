"""The dynamic approver template's own behaviour, tested with the kit (your tests: change them)."""

from __future__ import annotations

import json

import pytest

from handler_tests.shipped import require_shipped
from idn_local.testing import deliver

DYN = "idn:access-request-dynamic-approver"
GROUP = {"id": "g-roles", "name": "Role Owners", "type": "GOVERNANCE_GROUP"}
PERSON = {"id": "i-1", "name": "Adam Adams", "type": "IDENTITY"}
NOBODY = {"id": "", "name": "", "type": ""}


@pytest.fixture(autouse=True)
def shipped_template() -> None:
    require_shipped(
        "access_request_dynamic_approver"
    )  # these examples describe the shipped template: see shipped.py


def rules(value: dict[str, object]) -> dict[str, str]:
    return {"DYNAMIC_APPROVER_RULES": json.dumps(value)}


def test_picks_the_rule_for_the_item_type() -> None:  # the example requests an ACCESS_PROFILE
    outcome = deliver(DYN, env=rules({"ROLE": GROUP, "ACCESS_PROFILE": PERSON}))
    assert outcome.answer == PERSON


def test_falls_back_to_star_then_nobody() -> None:
    assert deliver(DYN, env=rules({"*": GROUP})).answer == GROUP
    assert deliver(DYN, env=rules({"ROLE": GROUP})).answer == NOBODY


def test_on_async_the_worker_completes_with_the_same_answer() -> None:
    outcome = deliver(DYN, mode="ASYNC", env=rules({"*": GROUP}))
    assert outcome.what_happened == "acknowledged, completed by the worker" and outcome.answer == GROUP


def test_bad_rules_fail_the_delivery_and_the_log_names_the_variable() -> None:
    outcome = deliver(DYN, env=rules({"ROLE": {"id": "g", "name": "R", "type": "TEAM"}}))
    assert outcome.status == 500  # what a failing handler answers SailPoint
    assert "DYNAMIC_APPROVER_RULES" in outcome.logs
