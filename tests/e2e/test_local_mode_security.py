"""Issue 27 items 2, 3 and 6 in local mode: nothing a web page can reach, admin actions behind the
run's admin token with no exception text in their answers, and rotate + revoke of a leaked
credential through `python -m idn_local.rotate` while the tenant holds an EVENTBRIDGE subscription."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from tests.support import ROOT

pytestmark = pytest.mark.e2e
LEAKED = "leaked-local-inbound-token"
PRE = "idn:access-request-pre-approval"
ORIGIN = "https://evil.example"


@pytest.fixture(scope="module")
def runner() -> Iterator[LocalRunner]:
    with LocalRunner(LocalOptions(port=0, auth=InboundAuth.parse(f"bearer:{LEAKED}"))) as started:
        yield started


def preflight(url: str) -> requests.Response:
    return requests.options(
        url,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-amz-target,content-type,authorization",
        },
        timeout=10,
    )


def test_moto_answers_no_browser_preflight_or_request(runner: LocalRunner) -> None:
    answer = preflight(runner.aws_endpoint + "/")
    assert "Access-Control-Allow-Origin" not in answer.headers and answer.status_code == 403
    read = requests.post(
        runner.aws_endpoint + "/",
        headers={
            "Origin": ORIGIN,
            "X-Amz-Target": "secretsmanager.ListSecrets",
            "Content-Type": "application/x-amz-json-1.1",
        },
        data="{}",
        timeout=10,
    )
    assert read.status_code == 403 and "Access-Control-Allow-Origin" not in read.headers
    assert "SecretList" not in read.text


def test_the_local_api_answers_no_preflight_with_cors(runner: LocalRunner) -> None:
    for path in (f"/triggers/{PRE}", "/_local/rotate-inbound-credential"):
        assert "Access-Control-Allow-Origin" not in preflight(runner.api_url + path).headers


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Bearer {LEAKED}"])
def test_local_admin_actions_need_the_admin_token(runner: LocalRunner, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    for action in ("rotate-inbound-credential", "revoke-previous-credential", "no-such-action"):
        answer = requests.post(f"{runner.api_url}/_local/{action}", headers=headers, timeout=30)
        assert answer.status_code == 401, action


def test_a_failing_local_action_answers_no_exception_text(runner: LocalRunner) -> None:
    def fails() -> None:
        raise RuntimeError("internal-detail-that-must-stay-in-the-log")

    assert runner.api is not None
    runner.api.admin_actions["fails"] = fails
    answer = requests.post(
        f"{runner.api_url}/_local/fails",
        headers={"Authorization": f"Bearer {runner.admin_token}"},
        timeout=30,
    )
    assert answer.status_code == 500 and "internal-detail" not in answer.text


def test_the_trigger_id_is_url_decoded_once(runner: LocalRunner) -> None:
    """Issue 27 item 10: local mode decoded it twice, so `%253A` reached the trigger like `:`."""
    body = {"accessRequestId": "a", "requestedFor": [], "requestedItems": [], "requestedBy": {}}
    headers = {"Authorization": f"Bearer {LEAKED}"}
    once = requests.post(
        f"{runner.api_url}/triggers/idn%3Aaccess-request-pre-approval", json=body, headers=headers, timeout=30
    )
    twice = requests.post(
        f"{runner.api_url}/triggers/idn%253Aaccess-request-pre-approval",
        json=body,
        headers=headers,
        timeout=30,
    )
    assert once.status_code != 404 and twice.status_code == 404


def deliver(runner: LocalRunner, token: str) -> int:
    body = {"accessRequestId": "a", "requestedFor": [], "requestedItems": [], "requestedBy": {}}
    return requests.post(
        runner.webhook_url(PRE), json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).status_code


def test_rotate_and_revoke_end_a_leaked_credential_despite_an_eventbridge_subscription(
    runner: LocalRunner,
) -> None:
    # Given an EVENTBRIDGE subscription in the tenant (httpConfig: null) and the leaked token accepted
    assert runner.tenant is not None
    runner.tenant.create_subscription(
        {
            "name": "another team's bus",
            "triggerId": "idn:source-created",
            "type": "EVENTBRIDGE",
            "enabled": True,
            "eventBridgeConfig": {"awsAccount": "123456789012", "awsRegion": "us-east-1"},
        }
    )
    assert deliver(runner, LEAKED) != 401
    # When the operator rotates and revokes, as the README says
    result = subprocess.run(
        [sys.executable, "-m", "idn_local.rotate", "--url", runner.api_url, "--revoke-previous"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        check=False,
        env={**os.environ, "IDN_LOCAL_ADMIN_TOKEN": runner.admin_token},
    )
    # Then both steps succeed and, once the receiver's 2-second cache has expired, the leaked token is refused
    assert result.returncode == 0, result.stderr
    assert "rotated:" in result.stdout and "revoked:" in result.stdout
    deadline = time.monotonic() + 60
    while deliver(runner, LEAKED) != 401:
        assert time.monotonic() < deadline, "the leaked token is still accepted"
        time.sleep(0.5)


def test_rotate_without_the_admin_token_is_a_clear_error(runner: LocalRunner) -> None:
    env = {k: v for k, v in os.environ.items() if k != "IDN_LOCAL_ADMIN_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "idn_local.rotate", "--url", runner.api_url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
        env=env,
    )
    assert (
        result.returncode == 2
        and "IDN_LOCAL_ADMIN_TOKEN" in result.stderr
        and "Traceback" not in result.stderr
    )
