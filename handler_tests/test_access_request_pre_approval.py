"""The pre-approval template's own behaviour: an example of testing a handler with the kit.

These are your tests: change them with your handler. `deliver` runs a catalogue example (or your
payload) through the receiver and the worker as SailPoint's delivery would, in a few milliseconds.
"""

from __future__ import annotations

import pytest

from handler_tests.shipped import require_shipped
from idn_local.testing import deliver

PRE = "idn:access-request-pre-approval"
ITEM = "requestedItems.0.name"  # the example requests "Engineering Access"


@pytest.fixture(autouse=True)
def shipped_template() -> None:
    require_shipped(
        "access_request_pre_approval"
    )  # these examples describe the shipped template: see shipped.py


def test_approves_by_default_naming_the_configured_approver() -> None:
    outcome = deliver(PRE, env={"PREAPPROVAL_APPROVER": "jane.doe"})
    assert outcome.status == 200
    assert outcome.answer["approved"] is True and outcome.answer["approver"] == "jane.doe"


@pytest.mark.parametrize(
    "deny", ["Engineering Access", "engineering access", "2c91808b6ef1d43e016efba0ce470904"]
)
def test_denies_items_on_the_deny_list_by_name_or_id(deny: str) -> None:
    outcome = deliver(PRE, env={"PREAPPROVAL_DENIED_ITEMS": f"Other, {deny}"})
    assert outcome.answer["approved"] is False and "Engineering Access" in outcome.answer["comment"]


def test_allows_removing_a_denied_item() -> None:
    outcome = deliver(
        PRE,
        changes={"requestedItems.0.operation": "Remove"},
        env={"PREAPPROVAL_DENIED_ITEMS": "Engineering Access"},
    )
    assert outcome.answer["approved"] is True


def test_review_items_are_deferred_on_dynamic_then_completed_by_the_worker() -> None:
    outcome = deliver(PRE, mode="DYNAMIC", env={"PREAPPROVAL_REVIEW_ITEMS": "Engineering Access"})
    assert (outcome.status, outcome.what_happened) == (202, "deferred, completed by the worker")
    assert outcome.answer["comment"] == "Approved after review of Engineering Access."


def test_review_runs_inline_when_it_cannot_defer() -> None:
    outcome = deliver(PRE, mode="SYNC", env={"PREAPPROVAL_REVIEW_ITEMS": "Engineering Access"})
    assert outcome.what_happened == "answered now"
    assert outcome.answer["comment"] == "Approved after review of Engineering Access."


def test_deny_wins_over_review() -> None:
    both = {
        "PREAPPROVAL_REVIEW_ITEMS": "Engineering Access",
        "PREAPPROVAL_DENIED_ITEMS": "Engineering Access",
    }
    outcome = deliver(PRE, mode="DYNAMIC", env=both)
    assert outcome.what_happened == "answered now" and outcome.answer["approved"] is False


def test_items_not_under_review_are_answered_now_on_dynamic() -> None:
    outcome = deliver(PRE, mode="DYNAMIC", changes={ITEM: "Read-only Access"})
    assert outcome.what_happened == "answered now" and outcome.answer["approved"] is True
