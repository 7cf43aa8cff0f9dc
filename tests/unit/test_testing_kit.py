"""The handler author's testing kit (idn_local.testing) delivers as Lambda would, with the product's
own handlers (tests/product_handlers) and handlers written here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from idn_local.testing import deliver, with_changes
from tests.product_handlers import PACKAGE
from tests.product_handlers.shared import APPROVED, reviewed_comment
from tests.unit.conftest import HandlerPackage

PRE = "idn:access-request-pre-approval"
REVIEW = {"PRODUCT_TEST_REVIEW_ITEMS": "Engineering Access"}


def test_sync_is_answered_now_in_the_response() -> None:
    outcome = deliver(PRE, package=PACKAGE)
    assert (outcome.status, outcome.what_happened, outcome.completion) == (200, "answered now", None)
    assert outcome.answer["comment"] == APPROVED


def test_async_is_acknowledged_then_completed_by_the_worker() -> None:
    outcome = deliver(PRE, mode="ASYNC", package=PACKAGE)
    assert (outcome.status, outcome.body, outcome.worker_outcomes) == (200, {}, ("completed",))
    assert outcome.what_happened == "acknowledged, completed by the worker"
    assert outcome.answer["comment"] == APPROVED


def test_a_deferred_dynamic_delivery_is_202_then_completed_by_the_worker() -> None:
    outcome = deliver(PRE, mode="dynamic", env=REVIEW, package=PACKAGE)
    assert (outcome.status, outcome.what_happened) == (202, "deferred, completed by the worker")
    assert outcome.answer["comment"] == reviewed_comment("Engineering Access")


def test_env_is_for_one_delivery_only() -> None:
    deliver(PRE, mode="DYNAMIC", env=REVIEW, package=PACKAGE)
    assert deliver(PRE, mode="DYNAMIC", package=PACKAGE).what_happened == "answered now"


def test_fire_and_forget_is_queued_and_handled_by_the_worker_with_its_summary_logged() -> None:
    outcome = deliver("idn:identity-created", package=PACKAGE)
    assert (outcome.mode, outcome.status, outcome.answer) == ("FIRE_AND_FORGET", 200, None)
    assert outcome.what_happened == "handled by the worker"
    assert [s["summary"]["trigger_id"] for s in outcome.summaries] == ["idn:identity-created"]


def test_an_invalid_payload_is_refused_with_the_receivers_400(tmp_path: Path) -> None:
    file = tmp_path / "event.json"
    file.write_text(json.dumps({"attributes": {}}), encoding="utf-8")
    outcome = deliver("idn:identity-created", file=file, package=PACKAGE)
    assert (outcome.status, outcome.what_happened, outcome.worker_outcomes) == (400, "refused (400)", ())
    assert outcome.error == "payload does not match the idn:identity-created input model"


def test_a_handler_that_keeps_failing_in_the_worker_completes_with_an_error(
    handler_package: HandlerPackage,
) -> None:
    handler_package.add(
        "access_request_pre_approval",
        """
        from idn_triggers.handlers import trigger_handler
        from idn_triggers.models.access_request import AccessRequestPreApproval, PreApprovalDecision

        @trigger_handler("idn:access-request-pre-approval")
        def decide(event: AccessRequestPreApproval) -> PreApprovalDecision:
            raise RuntimeError("the review system is down")
        """,
    )
    sync = deliver(PRE, package=handler_package.name)
    assert sync.status == 500 and str(sync.error).startswith("the trigger handler failed")
    outcome = deliver(PRE, mode="ASYNC", package=handler_package.name)
    assert outcome.worker_outcomes[:-1] == ("retry",) * (len(outcome.worker_outcomes) - 1)
    assert outcome.completion is not None and outcome.completion.error is not None
    assert outcome.what_happened == "acknowledged, completed by the worker with an error"


def test_changes_set_and_remove_dotted_paths_without_touching_the_original() -> None:
    original = {"a": [{"b": 1}], "c": 2}
    assert with_changes(original, {"a.0.b": 3, "c": None, "d.e": 4}) == {"a": [{"b": 3}], "d": {"e": 4}}
    assert original == {"a": [{"b": 1}], "c": 2}


def test_an_example_the_catalogue_does_not_have_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="2 catalogue examples; there is no 5"):
        deliver(PRE, example=5, package=PACKAGE)
