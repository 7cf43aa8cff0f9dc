"""Local mode: rotating the inbound credential while SailPoint keeps delivering rejects nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from idn_simulator import InvocationRecord, InvocationState
from tests.support import ROOT

PRE = "idn:access-request-pre-approval"
pytestmark = pytest.mark.e2e


def test_deliveries_before_during_and_after_a_rotation_are_all_accepted() -> None:
    with LocalRunner(LocalOptions(port=0, auth=InboundAuth.parse("bearer:before-rotation"))) as runner:
        assert runner.tenant is not None
        runner.tenant.create_subscription(
            {
                "name": "rotation e2e",
                "triggerId": PRE,
                "type": "HTTP",
                "enabled": True,
                "httpConfig": {
                    "url": runner.webhook_url(PRE),
                    "httpDispatchMode": "SYNC",
                    "httpAuthenticationType": "BEARER_TOKEN",
                    "bearerTokenAuthConfig": {"bearerToken": "before-rotation"},
                },
            }
        )
        records: list[InvocationRecord] = []
        stop = threading.Event()

        def deliver() -> None:
            while not stop.is_set():
                records.extend(runner.simulator.fire_event(PRE))
                time.sleep(0.1)

        sender = threading.Thread(target=deliver)
        sender.start()
        try:
            time.sleep(0.5)
            # the local admin endpoint, as `python -m idn_local.rotate --url ...` calls it
            result = subprocess.run(
                [sys.executable, "-m", "idn_local.rotate", "--url", runner.api_url],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=ROOT,
                check=False,
                env={**os.environ, "IDN_LOCAL_ADMIN_TOKEN": runner.admin_token},
            )
            assert result.returncode == 0, result.stderr
            time.sleep(0.5)
        finally:
            stop.set()
            sender.join()
        settled = [
            runner.simulator.wait_for_invocation(lambda r, i=r.id: r.id == i and r.settled, timeout=10)
            for r in records
        ]
        [subscription] = [s for s in runner.simulator.subscriptions() if s.name == "rotation e2e"]
        assert subscription.http_config is not None
        assert subscription.http_config["bearerTokenAuthConfig"]["bearerToken"] != "before-rotation"
    statuses = [r.delivery.status if r.delivery else None for r in settled]
    assert len(settled) > 20, "too few deliveries to cover the rotation"
    assert all(r.state is InvocationState.COMPLETED for r in settled), statuses
    assert set(statuses) == {200}


def test_rotate_command_without_a_stack_is_a_clear_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "idn_local.rotate", "--url", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        check=False,
        env={**os.environ, "IDN_LOCAL_ADMIN_TOKEN": "any"},
    )
    assert result.returncode == 2 and "no local stack" in result.stderr and "Traceback" not in result.stderr
