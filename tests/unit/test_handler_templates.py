"""The two request-response handler templates, configured through their environment variables."""

from __future__ import annotations

import jsonschema
import pytest

from idn_triggers.envelope import ResponseMode
from idn_triggers.handlers import DEFER, HandlerContext
from idn_triggers.models.access_request import (
    AccessRequestDynamicApprover,
    AccessRequestPreApproval,
    DynamicApprover,
)
from tests.support import trigger_document
from trigger_handlers import access_request_dynamic_approver as dynamic
from trigger_handlers import access_request_pre_approval as pre

PRE_DOC = trigger_document("idn:access-request-pre-approval")
SYNC = HandlerContext("idn:access-request-pre-approval", ResponseMode.SYNC)
DYNAMIC = HandlerContext("idn:access-request-pre-approval", ResponseMode.DYNAMIC, "inv-1", can_defer=True)
DYN_DOC = trigger_document("idn:access-request-dynamic-approver")


@pytest.fixture(autouse=True)
def fresh_settings() -> None:
    pre.settings.cache_clear()
    dynamic.settings.cache_clear()


def pre_event(**item: str) -> AccessRequestPreApproval:
    base = PRE_DOC["exampleInput"]
    return AccessRequestPreApproval.model_validate(
        {**base, "requestedItems": [{**base["requestedItems"][0], **item}]}
    )


def test_pre_approval_approves_by_default_naming_the_configured_approver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PREAPPROVAL_APPROVER", "jane.doe")
    decision = pre.decide(pre_event(), SYNC)
    assert decision.approved and decision.approver == "jane.doe"
    jsonschema.validate(decision.to_json_dict(), PRE_DOC["outputSchema"])


@pytest.mark.parametrize(
    "deny", ["Engineering Access", "engineering access", "2c91808b6ef1d43e016efba0ce470904"]
)
def test_pre_approval_denies_items_on_the_deny_list_by_name_or_id(
    monkeypatch: pytest.MonkeyPatch, deny: str
) -> None:
    monkeypatch.setenv("PREAPPROVAL_DENIED_ITEMS", f"Other, {deny}")
    decision = pre.decide(pre_event(), SYNC)
    assert not decision.approved and "Engineering Access" in decision.comment
    jsonschema.validate(decision.to_json_dict(), PRE_DOC["outputSchema"])


def test_pre_approval_allows_removing_a_denied_item(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREAPPROVAL_DENIED_ITEMS", "Engineering Access")
    assert pre.decide(pre_event(operation="Remove"), SYNC).approved


def test_pre_approval_accepts_every_published_example() -> None:
    for example in (PRE_DOC["exampleInput"], PRE_DOC["exampleInputFromSpecSchema"]):
        jsonschema.validate(
            pre.decide(AccessRequestPreApproval.model_validate(example), SYNC).to_json_dict(),
            PRE_DOC["outputSchema"],
        )


def test_pre_approval_review_items_are_deferred_when_they_can_be(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREAPPROVAL_REVIEW_ITEMS", "Engineering Access")
    assert pre.decide(pre_event(), DYNAMIC) is DEFER


def test_pre_approval_review_runs_inline_when_it_cannot_defer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREAPPROVAL_REVIEW_ITEMS", "Engineering Access")
    decision = pre.decide(pre_event(), SYNC)
    assert decision is not DEFER
    assert decision.approved and decision.comment == "Approved after review of Engineering Access."
    jsonschema.validate(decision.to_json_dict(), PRE_DOC["outputSchema"])


def test_pre_approval_deny_wins_over_review(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREAPPROVAL_REVIEW_ITEMS", "Engineering Access")
    monkeypatch.setenv("PREAPPROVAL_DENIED_ITEMS", "Engineering Access")
    decision = pre.decide(pre_event(), DYNAMIC)
    assert decision is not DEFER and not decision.approved


def test_dynamic_items_not_under_review_are_answered_now() -> None:
    decision = pre.decide(pre_event(), DYNAMIC)
    assert decision is not DEFER and decision.approved


RULES = (
    '{"ROLE": {"id": "g-roles", "name": "Role Owners", "type": "GOVERNANCE_GROUP"}, '
    '"ACCESS_PROFILE": {"id": "i-1", "name": "Adam Adams", "type": "IDENTITY"}}'
)


def test_dynamic_approver_picks_the_rule_for_the_item_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNAMIC_APPROVER_RULES", RULES)
    approver = dynamic.choose_approver(AccessRequestDynamicApprover.model_validate(DYN_DOC["exampleInput"]))
    assert approver is not None and (approver.id, approver.type) == ("i-1", "IDENTITY")
    jsonschema.validate(approver.to_json_dict(), DYN_DOC["outputSchema"])


def test_dynamic_approver_falls_back_to_star_then_nobody(monkeypatch: pytest.MonkeyPatch) -> None:
    event = AccessRequestDynamicApprover.model_validate(DYN_DOC["exampleInput"])
    monkeypatch.setenv(
        "DYNAMIC_APPROVER_RULES", '{"*": {"id": "g", "name": "Default", "type": "GOVERNANCE_GROUP"}}'
    )
    approver = dynamic.choose_approver(event)
    assert approver is not None and approver.id == "g"
    dynamic.settings.cache_clear()
    monkeypatch.setenv(
        "DYNAMIC_APPROVER_RULES", '{"ROLE": {"id": "g", "name": "R", "type": "GOVERNANCE_GROUP"}}'
    )
    assert dynamic.choose_approver(event) == DynamicApprover.nobody()


def test_dynamic_approver_bad_rules_fail_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNAMIC_APPROVER_RULES", '{"ROLE": {"id": "g", "name": "R", "type": "TEAM"}}')
    with pytest.raises(Exception, match="DYNAMIC_APPROVER_RULES"):
        dynamic.settings()
