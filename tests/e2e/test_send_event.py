"""`idn-triggers send` against local mode (`make run`): SYNC, ASYNC and fire-and-forget, each outcome
shown; `invoke-test --wait` shows a subscriber's 400 instead of exit 0.

The CLI runs as a user runs it (the installed module in a subprocess), with the credentials the
`make run` banner prints, against the local stack's simulator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from tests.product_handlers.shared import APPROVED
from tests.support import ROOT, trigger_document

PRE, DYN, CREATED = (
    "idn:access-request-pre-approval",
    "idn:access-request-dynamic-approver",
    "idn:identity-created",
)
TOKEN = "e2e-send-token"
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRunner]:
    with LocalRunner(LocalOptions(port=0, auth=InboundAuth.parse(f"bearer:{TOKEN}"))) as runner:
        assert runner.tenant is not None
        for trigger_id, mode in ((PRE, "SYNC"), (DYN, "ASYNC"), (CREATED, "SYNC")):
            runner.tenant.create_subscription(
                {
                    "name": f"send {trigger_id}",
                    "triggerId": trigger_id,
                    "type": "HTTP",
                    "enabled": True,
                    "httpConfig": {
                        "url": runner.webhook_url(trigger_id),
                        "httpDispatchMode": mode,
                        "httpAuthenticationType": "BEARER_TOKEN",
                        "bearerTokenAuthConfig": {"bearerToken": TOKEN},
                    },
                }
            )
        yield runner


def cli(local: LocalRunner, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAILPOINT_"))},
        "SAILPOINT_TENANT_URL": local.tenant_url,
        "SAILPOINT_CLIENT_ID": local.client_id,
        "SAILPOINT_CLIENT_SECRET": local.client_secret,
    }
    result = subprocess.run(
        [sys.executable, "-m", "idn_tools.tenant_cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=environment,
        check=False,
    )
    assert "Traceback" not in result.stderr and local.client_secret not in result.stdout + result.stderr
    return result


def outcomes(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    return list(json.loads(result.stdout)["outcomes"])


def test_sync_request_response_shows_the_answer(local: LocalRunner) -> None:
    result = cli(local, "send", PRE, "--wait", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    [shown] = outcomes(result)
    assert shown["outcome"] == "completed" and shown["detail"]["comment"] == APPROVED  # type: ignore[index]


def test_async_from_a_catalogue_example_shows_the_workers_completion(local: LocalRunner) -> None:
    result = cli(local, "send", DYN, "--example", "1", "--wait", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    [shown] = outcomes(result)
    assert shown["outcome"] == "completed" and shown["detail"] == {"id": "", "name": "", "type": ""}


def test_fire_and_forget_from_stdin_is_delivered(local: LocalRunner) -> None:
    body = json.dumps(trigger_document(CREATED)["exampleInput"])
    result = cli(local, "send", CREATED, "--input", "-", "--wait", stdin=body)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "completed" in result.stdout  # the table: invocation, outcome, answer or reason


def test_a_400_from_the_subscriber_is_shown_with_exit_1(local: LocalRunner) -> None:
    # Given an input the receiver refuses (no identity: 400 naming the field)
    bad = json.dumps({"attributes": {}})
    for command in (["send", CREATED, "--input", "-"], ["invoke-test", CREATED, "--input", "/dev/stdin"]):
        result = cli(local, *command, "--wait", "--json", stdin=bad)
        # Then the outcome says so, and the exit code is not 0
        assert result.returncode == 1, result.stdout + result.stderr
        [shown] = outcomes(result)
        assert shown["outcome"] == "failed" and "400" in str(shown["detail"])


def test_without_wait_it_prints_the_invocation_and_a_bad_example_number_is_a_usage_error(
    local: LocalRunner,
) -> None:
    started = cli(local, "send", PRE)
    assert started.returncode == 0 and PRE in started.stdout
    wrong = cli(local, "send", PRE, "--example", "7")
    assert wrong.returncode == 2 and "catalogue example" in wrong.stderr
