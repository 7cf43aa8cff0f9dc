"""Local mode end to end: SailPoint (the simulator) invokes the receiver over HTTP, as in production."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from idn_local.runner import LocalRunner
from idn_simulator import InvocationState
from tests.e2e.conftest import E2E_BEARER
from tests.support import ROOT, trigger_document

PRE = "idn:access-request-pre-approval"
pytestmark = pytest.mark.e2e


def subscribe(local: LocalRunner, trigger_id: str, *, token: str = E2E_BEARER, **extra: Any) -> str:
    assert local.tenant is not None
    for existing in local.tenant.list_subscriptions():  # one subscription per REQUEST_RESPONSE trigger
        if existing["triggerId"] == trigger_id:
            local.tenant.delete_subscription(existing["id"])
    body = {
        "name": f"e2e {trigger_id}",
        "triggerId": trigger_id,
        "type": "HTTP",
        "enabled": True,
        "httpConfig": {
            "url": local.webhook_url(trigger_id),
            "httpDispatchMode": "SYNC",
            "httpAuthenticationType": "BEARER_TOKEN",
            "bearerTokenAuthConfig": {"bearerToken": token},
        },
        **extra,
    }
    return str(local.tenant.create_subscription(body)["id"])


def test_sync_pre_approval_round_trip(local: LocalRunner) -> None:
    # Given a SYNC subscription of the local receiver to pre-approval
    subscribe(local, PRE)
    # When SailPoint fires the trigger
    [record] = local.simulator.fire_event(PRE)
    record = local.simulator.wait_for_invocation(lambda r: r.id == record.id and r.settled, timeout=10)
    # Then the receiver's answer completed it, and it is a valid pre-approval decision
    assert record.state is InvocationState.COMPLETED, record.failure
    assert record.delivery is not None and record.delivery.status == 200
    assert record.output["approved"] is True
    jsonschema.validate(record.output, trigger_document(PRE)["outputSchema"])


def test_wrong_credentials_are_refused_and_the_invocation_fails(local: LocalRunner) -> None:
    subscribe(local, PRE, token="not-the-token")
    [record] = local.simulator.fire_event(PRE)
    record = local.simulator.wait_for_invocation(lambda r: r.id == record.id and r.settled, timeout=10)
    assert record.state is InvocationState.FAILED
    assert record.delivery is not None and record.delivery.status == 401
    assert record.delivery.body == {"message": "authentication required"}


def test_a_filter_that_excludes_the_event_sends_nothing(local: LocalRunner) -> None:
    subscribe(local, PRE, filter='$[?($.accessRequestId == "some-other-request")]')
    assert local.simulator.fire_event(PRE) == []
    subscribe(local, PRE, filter='$[?($.requestedItems[0].type == "ACCESS_PROFILE")]')
    assert len(local.simulator.fire_event(PRE)) == 1


def test_direct_post_with_bad_input_gets_a_clear_4xx(local: LocalRunner) -> None:
    auth = {"Authorization": f"Bearer {E2E_BEARER}"}
    url = local.webhook_url(PRE)
    cases = [
        (requests.post(url, data="{nope", headers=auth, timeout=5), 400),
        (requests.post(url, json={"accessRequestId": 1}, headers=auth, timeout=5), 400),
        (requests.post(local.webhook_url("idn:nope"), json={}, headers=auth, timeout=5), 404),
        (requests.post(url, json={}, timeout=5), 401),
        (requests.get(url, headers=auth, timeout=5), 403),  # no such route: API Gateway's answer
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert "message" in response.json()


def test_stage_prefixed_url_works_like_api_gateway(local: LocalRunner) -> None:
    body = trigger_document(PRE)["exampleInput"]
    response = requests.post(
        f"{local.api_url}/v1/triggers/{PRE}",
        json=body,
        headers={"Authorization": f"Bearer {E2E_BEARER}"},
        timeout=5,
    )
    assert response.status_code == 200 and set(response.json()) == {"approved", "comment", "approver"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_cli(*args: str, timeout: float = 60, **secrets: str) -> subprocess.CompletedProcess[str]:
    # as a user's shell runs it: none of the suite's AWS_* or POWERTOOLS_* settings; secrets (issue 27)
    # in the environment, never in argv
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "POWERTOOLS_"))}
    env["PRODUCT_TEST_REVIEW_ITEMS"] = "Engineering Access"  # the demo's item: its DYNAMIC row defers
    env.update(secrets)
    return subprocess.run(
        [sys.executable, "-m", "idn_local", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
        check=False,
    )


def test_cli_runs_the_demo_and_exits_cleanly() -> None:
    result = run_cli("--port", "0", "--exit-after-demo")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("  idn:")]
    seen = {(row[0], row[1], " ".join(row[2 : row.index("COMPLETED")])) for row in rows if "COMPLETED" in row}
    # each row says what happened, whatever the subscription asked for
    by_worker = "acknowledged (200), completed by the worker"
    assert {
        ("idn:access-request-pre-approval", "SYNC", "answered now (200)"),
        ("idn:access-request-pre-approval", "ASYNC", by_worker),
        ("idn:access-request-pre-approval", "DYNAMIC", "answered now (200)"),
        ("idn:access-request-pre-approval", "DYNAMIC", "deferred (202), completed by the worker"),
        ("idn:access-request-dynamic-approver", "ASYNC", by_worker),
        ("idn:identity-created", "fire-and-forget", "acknowledged (200), queued for the worker"),
    } <= seen, result.stdout
    assert "Stopped." in result.stdout


@pytest.mark.parametrize("auth", ["basic:", "bearer:", "magic:x"])
def test_cli_malformed_auth_is_a_one_line_error(auth: str) -> None:
    result = run_cli("--auth", auth, "--no-demo", "--exit-after-demo")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: --auth must be") and "Traceback" not in result.stderr


def test_cli_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run_cli("--port", str(busy.getsockname()[1]), "--no-demo", "--exit-after-demo")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot listen on" in result.stderr


def test_cli_unreachable_tenant_is_a_one_line_error() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    result = run_cli(
        "--port",
        "0",  # the default 3000 may be taken by another test worker or a `make run`
        "--tenant-url",
        url,
        "--client-id",
        "x",
        "--no-demo",
        "--exit-after-demo",
        SAILPOINT_CLIENT_SECRET="y",
    )
    assert result.returncode == 2 and "unreachable" in result.stderr and "Traceback" not in result.stderr


def test_stop_frees_every_port() -> None:
    from idn_local.runner import LocalOptions

    runner = LocalRunner(LocalOptions(port=0)).start()
    ports = [runner.api.server_address[1], runner.simulator.port, int(runner.aws_endpoint.rsplit(":", 1)[1])]
    runner.stop()
    for port in ports:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"


def test_report_is_json_free_of_secrets_in_logs(tmp_path: Path) -> None:
    secret_file = tmp_path / "client-secret"
    secret_file.write_text("cli-client-secret\n")
    result = run_cli(
        "--port",
        "0",
        "--exit-after-demo",
        "--client-secret-file",
        str(secret_file),
        IDN_LOCAL_AUTH="bearer:cli-visible-token",
    )
    assert result.returncode == 0
    # the chosen inbound token is never printed (issue 27), nor in a log line
    log_lines = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("{")]
    assert log_lines and all(json.loads(line) for line in log_lines)
    assert not any("cli-visible-token" in line or "cli-client-secret" in line for line in log_lines)
    assert "cli-client-secret" not in result.stdout + result.stderr
    assert "cli-visible-token" not in result.stdout + result.stderr


def test_ctrl_c_stops_every_thread_and_port_cleanly() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "idn_local", "--port", "0", "--no-demo"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    receiver_port = None
    for line in process.stdout:
        if line.startswith("Receiver:"):
            receiver_port = int(line.split("127.0.0.1:")[1].split("/")[0])
        if line.startswith("Serving"):
            break
    assert receiver_port is not None
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err[-2000:]
    assert "Stopped." in out and "Traceback" not in err
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", receiver_port)) != 0
