"""The budget's pure rules: which version SailPoint counts a path under, the per-second quota, and
what a caller does when its turn is too far away (no network: the budget here is a test double of
the Budget port, the DynamoDB one is tested against moto in tests/integration/test_rate_budget.py)."""

from __future__ import annotations

import pytest

from idn_triggers.callback import CallbackClient, CallbackOutcome
from idn_triggers.deprecations import DeprecationWatch, endpoint_of
from idn_triggers.rate_budget import BudgetExhausted, api_version, per_second_quota
from idn_triggers.sailpoint_api import SailPointClient, SailPointRateLimited


@pytest.mark.parametrize(
    ("path", "version"),
    [
        ("/trigger-invocations/v1/2cf1a0c2/complete", "v1"),
        ("/triggers/v1", "v1"),
        ("/beta/trigger-subscriptions", "beta"),
        ("/v3/sources", "v3"),
        ("/v2025/triggers", "v2025"),
        ("/oauth/token", "v1"),
    ],
)
def test_api_version_is_the_one_sailpoint_counts(path: str, version: str) -> None:
    assert api_version(path) == version


@pytest.mark.parametrize(("limit", "quota"), [(100, 9), (11, 1), (10, 1), (1000, 90)])
def test_per_second_quota_keeps_every_ten_second_span_under_the_limit(limit: int, quota: int) -> None:
    assert per_second_quota(limit) == quota
    assert quota * 11 <= max(limit, 11)


class NoTurns:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def take(self, path: str) -> None:
        self.asked.append(path)
        raise BudgetExhausted(3.0)


class FixedToken:
    def token(self) -> str:
        return "token"

    def invalidate(self, token: str) -> None:
        pass


def test_a_completion_without_a_turn_is_retried_later_without_a_request() -> None:
    budget = NoTurns()
    client = CallbackClient(FixedToken(), budget=budget)

    result = client.complete("https://t.example/trigger-invocations/v1/abc/complete", "s", output={})

    assert result.outcome is CallbackOutcome.RETRY and result.retry_after == 3.0
    assert client.calls == 0
    assert budget.asked == ["/trigger-invocations/v1/abc/complete"]


def test_an_api_call_without_a_turn_is_rate_limited_after_its_retries() -> None:
    slept: list[float] = []
    client = SailPointClient(
        "https://t.example", FixedToken(), budget=NoTurns(), max_retries=2, sleep=slept.append
    )

    with pytest.raises(SailPointRateLimited):
        client.list_triggers()

    assert slept == [3.0, 3.0]


def test_endpoints_fold_ids_and_drop_host_and_query() -> None:
    url = "https://t.example/trigger-invocations/v1/0f6e2b1c-9d7a-4c3b-8e21-5a4f3d2c1b0a/complete?x=1"

    assert endpoint_of("post", url) == "POST /trigger-invocations/v1/{id}/complete"
    assert endpoint_of("GET", "/beta/trigger-subscriptions") == "GET /beta/trigger-subscriptions"


def test_a_deprecated_endpoint_is_counted_each_time_and_only_marked_answers_count() -> None:
    watch = DeprecationWatch()
    for _ in range(3):
        watch.note("GET", "/beta/triggers", {"X-Deprecated": "true"})
    watch.note("GET", "/triggers/v1", {})
    watch.note("GET", "/triggers/v1", {"X-Deprecated": "false"})

    assert watch.seen() == {"GET /beta/triggers": 3}


def test_the_budget_module_imports_no_boto3_until_first_use() -> None:
    """Cold start: the functions pay for the DynamoDB client on their first SailPoint call only."""
    import subprocess
    import sys

    probe = "import sys, idn_triggers.rate_budget; print('boto3' in sys.modules or 'botocore.client' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "False"
