"""The fire-and-forget templates' own behaviour: what each logs (your tests: change them).

Each template logs one summary of the event (`idn_triggers.summaries`); `outcome.summaries` are
the summary lines of one delivery.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from handler_tests.shipped import require_shipped
from idn_local.testing import deliver, examples
from idn_triggers.catalogue import known_triggers

WITH_EXAMPLES = sorted(t for t, i in known_triggers().items() if not i.is_request_response and examples(t))


def module(trigger_id: str) -> str:
    return trigger_id.removeprefix("idn:").replace("-", "_")


def levels(trigger_id: str, *payloads: dict[str, Any], **kwargs: Any) -> list[str]:
    return [deliver(trigger_id, payload=p, **kwargs).summaries[0]["level"] for p in payloads]


@pytest.mark.parametrize("trigger_id", WITH_EXAMPLES)
def test_each_template_logs_one_summary_of_its_event(trigger_id: str) -> None:
    require_shipped(module(trigger_id))
    [line] = deliver(trigger_id).summaries
    assert line["summary"]["trigger_id"] == trigger_id


def test_aggregation_failure_is_a_warning() -> None:
    require_shipped(module("idn:account-aggregation-completed"))
    data = examples("idn:account-aggregation-completed")[1]
    failed = {**data, "status": "Failed", "errors": None}
    assert levels(
        "idn:account-aggregation-completed", failed, {**data, "status": "Success", "errors": None}
    ) == [
        "WARNING",
        "INFO",
    ]


def test_post_approval_outcome_counts_denied_items() -> None:
    require_shipped(module("idn:access-request-post-approval"))
    data = examples("idn:access-request-post-approval")[0]
    approved = data["requestedItemsStatus"][0]
    denied = copy.deepcopy(approved) | {"id": "item-2", "approvalInfo": [{"approvalDecision": "DENIED"}]}
    data["requestedItemsStatus"].append(denied)
    [line] = deliver("idn:access-request-post-approval", payload=data).summaries
    assert line["summary"]["labels"] == {"outcome": "PARTIALLY_APPROVED"}
    assert line["summary"]["counts"]["denied_items"] == 1


@pytest.mark.parametrize(("attribute", "mover"), [("department", True), ("phone", False)])
def test_identity_change_flags_movers(attribute: str, mover: bool) -> None:
    require_shipped(module("idn:identity-attributes-changed"))
    outcome = deliver("idn:identity-attributes-changed", changes={"changes.0.attribute": attribute})
    [line] = outcome.summaries
    assert line["summary"]["labels"]["mover"] is mover
    assert line["summary"]["attributes"] == [attribute]


@pytest.mark.parametrize(("threshold", "level"), [("0.9", "INFO"), ("0.5", "WARNING")])
def test_outlier_alert_score_is_configurable(threshold: str, level: str) -> None:
    require_shipped(module("idn:outlier-detected"))
    example = examples("idn:outlier-detected")[0]  # score 0.82
    assert levels("idn:outlier-detected", example, env={"OUTLIER_ALERT_SCORE": threshold}) == [level]


def test_native_change_granting_entitlements_is_a_warning() -> None:
    require_shipped(module("idn:native-change-account-updated"))
    data = examples("idn:native-change-account-updated")[0]
    nothing_added = copy.deepcopy(data)
    for change in nothing_added["entitlementChanges"]:
        change["added"] = []
    assert levels("idn:native-change-account-updated", data, nothing_added) == ["WARNING", "INFO"]


def test_va_cluster_going_down_is_a_warning() -> None:
    require_shipped(module("idn:va-cluster-status-change"))
    outcome = deliver("idn:va-cluster-status-change", changes={"healthCheckResult.status": "Failed"})
    [line] = outcome.summaries
    assert (line["level"], line["summary"]["operation"]) == ("WARNING", "degraded")


def test_saved_search_never_logs_its_download_link() -> None:
    require_shipped(module("idn:saved-search-complete"))
    outcome = deliver("idn:saved-search-complete")
    assert "X-Amz-Signature" not in outcome.logs
    assert outcome.summaries[0]["summary"]["counts"] == {"Account": 3, "Entitlement": 2, "Identity": 2}
