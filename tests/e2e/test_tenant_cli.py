"""`idn-triggers` end to end against the tenant simulator, as a user runs it (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from idn_simulator import SimulatorConfig, TenantSimulator
from tests.support import ROOT

CLIENT, SECRET = "cli-client", "cli-client-secret-value"
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sim() -> Iterator[TenantSimulator]:
    simulator = TenantSimulator(
        SimulatorConfig(client_id=CLIENT, client_secret=SECRET, rate_limit_per_10s=None)
    )
    simulator.start()
    yield simulator
    simulator.stop()


def cli(
    sim: TenantSimulator, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "SAILPOINT_TENANT_URL": sim.url,
        "SAILPOINT_CLIENT_ID": CLIENT,
        "SAILPOINT_CLIENT_SECRET": SECRET,
        **(env or {}),
    }
    result = subprocess.run(
        [sys.executable, "-m", "idn_tools.tenant_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=environment,
        check=False,
    )
    assert SECRET not in result.stdout + result.stderr  # never echoed
    assert "Traceback" not in result.stderr
    return result


def test_doctor_passes_on_a_healthy_tenant(sim: TenantSimulator) -> None:
    result = cli(sim, "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "client-credentials grant" in result.stdout and "/v1 answers" in result.stdout


def test_doctor_reports_an_endpoint_sailpoint_marks_deprecated(sim: TenantSimulator) -> None:
    sim.deprecate("/trigger-invocations/v1/status")
    try:
        result = cli(sim, "doctor")
    finally:
        sim.reset()

    assert result.returncode != 0
    assert "GET /trigger-invocations/v1/status" in result.stdout
    assert "Q1 2029" in result.stdout


def test_doctor_explains_wrong_credentials(sim: TenantSimulator) -> None:
    result = cli(sim, "doctor", env={"SAILPOINT_CLIENT_SECRET": "wrong"})
    assert result.returncode == 3  # the tenant refused (README: exit code 3)
    assert "FAIL" in result.stdout and "client id and secret" in result.stdout


def test_triggers_list_shows_availability(sim: TenantSimulator) -> None:
    result = cli(sim, "--json", "triggers", "list")
    assert result.returncode == 0
    assert {t["id"] for t in json.loads(result.stdout)} >= {
        "idn:access-request-pre-approval",
        "idn:identity-created",
    }
    table = cli(sim, "triggers", "list").stdout
    assert "idn:access-request-pre-approval" in table and "REQUEST_RESPONSE" in table and "GA" in table


def test_subscription_lifecycle(sim: TenantSimulator) -> None:
    created = cli(
        sim,
        "--json",
        "subscriptions",
        "create",
        "--trigger",
        "idn:identity-created",
        "--name",
        "cli test",
        "--url",
        "https://example.com/v1/triggers/idn:identity-created",
        "--bearer-token-env",
        "HOOK_TOKEN",
        env={"HOOK_TOKEN": "hook-token-value"},
    )
    assert created.returncode == 0, created.stderr
    subscription = json.loads(created.stdout)
    assert "hook-token-value" not in created.stdout  # SailPoint does not echo it, nor do we
    listed = cli(sim, "subscriptions", "list", "--trigger", "idn:identity-created").stdout
    assert subscription["id"] in listed and "BEARER_TOKEN" in listed
    updated = cli(
        sim,
        "--json",
        "subscriptions",
        "update",
        subscription["id"],
        "--name",
        "renamed",
        "--mode",
        "SYNC",
        "--filter",
        '$[?($.identity.type == "IDENTITY")]',
        "--disable",
    )
    assert updated.returncode == 0, updated.stderr
    body = json.loads(updated.stdout)
    assert (body["name"], body["enabled"], body["filter"]) == (
        "renamed",
        False,
        '$[?($.identity.type == "IDENTITY")]',
    )
    assert cli(sim, "subscriptions", "delete", subscription["id"]).returncode == 0
    missing = cli(sim, "subscriptions", "delete", subscription["id"])
    assert missing.returncode == 3 and "404" in missing.stderr


def test_invoke_test_and_invocation_status(sim: TenantSimulator) -> None:
    cli(
        sim,
        "subscriptions",
        "create",
        "--trigger",
        "idn:source-created",
        "--name",
        "status test",
        "--url",
        "http://127.0.0.1:9/unreachable",
        "--auth",
        "none",
    )
    started = cli(sim, "--json", "invoke-test", "idn:source-created")
    assert started.returncode == 0, started.stderr
    [invocation] = json.loads(started.stdout)["started"]
    record = sim.wait_for_invocation(lambda r: r.id == invocation["id"] and r.settled, timeout=15)
    assert record.secret not in started.stdout  # the callback secret is never printed (issue 27)
    status = cli(sim, "invocations", "status", "--trigger", "idn:source-created")
    assert invocation["id"] in status.stdout and "failed" in status.stdout


def test_invoke_test_without_a_subscription_says_nothing_was_sent(sim: TenantSimulator) -> None:
    result = cli(sim, "--json", "invoke-test", "idn:source-deleted")

    assert result.returncode == 0 and json.loads(result.stdout) == {"started": []}
    assert "nothing was sent: no subscription to idn:source-deleted (" in result.stderr


def test_unknown_trigger_suggests_close_matches(sim: TenantSimulator) -> None:
    result = cli(sim, "invoke-test", "idn:identity-creatd")
    assert result.returncode == 2 and "did you mean idn:identity-created" in result.stderr


def test_filter_check_offline_and_remote_agree(sim: TenantSimulator) -> None:
    matching = cli(
        sim,
        "filter",
        "check",
        '$[?($.identity.type == "IDENTITY")]',
        "--trigger",
        "idn:identity-created",
        "--remote",
    )
    assert matching.returncode == 0, matching.stderr
    assert "matches" in matching.stdout and "disagree" not in matching.stdout
    not_matching = cli(
        sim,
        "--json",
        "filter",
        "check",
        '$[?($.identity.type == "ROBOT")]',
        "--trigger",
        "idn:identity-created",
        "--remote",
    )
    verdicts = json.loads(not_matching.stdout)
    assert not_matching.returncode == 1
    assert verdicts["offline"]["isValid"] is False and verdicts["tenant"]["isValid"] is False


def test_filter_syntax_error_points_at_the_position(sim: TenantSimulator) -> None:
    result = cli(
        sim, "filter", "check", '$[?($.identity.type == "IDENTITY"]', "--trigger", "idn:identity-created"
    )
    assert result.returncode == 1
    assert "invalid filter" in result.stdout and "^" in result.stdout


def test_filter_check_with_a_given_input(sim: TenantSimulator, tmp_path: Path) -> None:
    payload = tmp_path / "event.json"
    payload.write_text(json.dumps({"identity": {"type": "ROBOT", "id": "1"}}))
    result = cli(
        sim,
        "filter",
        "check",
        '$[?($.identity.type == "ROBOT")]',
        "--trigger",
        "idn:identity-created",
        "--input",
        str(payload),
    )
    assert result.returncode == 0 and "matches" in result.stdout
    assert (
        cli(
            sim,
            "filter",
            "check",
            "$.x",
            "--trigger",
            "idn:identity-created",
            "--input",
            str(tmp_path / "nope.json"),
        ).returncode
        == 2
    )


def test_tenant_errors_name_the_cause(sim: TenantSimulator) -> None:
    sim.faults.fail_next_requests(10, status=403)
    try:
        result = cli(sim, "subscriptions", "list")
    finally:
        sim.faults.clear()
    assert result.returncode == 3 and "403" in result.stderr and "scope" in result.stderr


def test_missing_configuration_is_a_usage_error(sim: TenantSimulator) -> None:
    result = cli(sim, "subscriptions", "list", env={"SAILPOINT_TENANT_URL": ""})
    assert result.returncode == 2 and "SAILPOINT_TENANT_URL" in result.stderr
