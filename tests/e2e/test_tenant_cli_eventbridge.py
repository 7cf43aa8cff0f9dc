"""`idn-triggers` with EVENTBRIDGE subscriptions, as a user runs it, against the simulator and moto.

The simulator creates each EVENTBRIDGE subscription's partner event source in moto; the CLI's
doctor then reads the sources back with the user's AWS settings (here: moto's endpoint).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from idn_local import moto_bridges
from idn_simulator import SimulatorConfig, TenantSimulator
from idn_triggers.event_buses import PartnerBuses, Route
from idn_triggers.eventbridge import partner_source_name
from tests.support import ROOT

CLIENT, SECRET = "cli-eb-client", "cli-eb-client-secret-value"
ACCOUNT, REGION = "123456789012", "us-east-1"
TRIGGER = "idn:identity-created"
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    moto_bridges.apply()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def sim(moto_endpoint: str) -> Iterator[TenantSimulator]:
    config = SimulatorConfig(
        client_id=CLIENT, client_secret=SECRET, rate_limit_per_10s=None, aws_endpoint_url=moto_endpoint
    )
    simulator = TenantSimulator(config).start()
    yield simulator
    simulator.stop()


def cli(sim: TenantSimulator, moto_endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "SAILPOINT_TENANT_URL": sim.url,
        "SAILPOINT_CLIENT_ID": CLIENT,
        "SAILPOINT_CLIENT_SECRET": SECRET,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
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
    assert SECRET not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def create(sim: TenantSimulator, moto_endpoint: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli(
        sim, moto_endpoint, "--json", "subscriptions", "create", "--trigger", TRIGGER, "--name", "eb", *extra
    )


def test_an_eventbridge_subscription_is_created_for_an_account_and_region(
    sim: TenantSimulator, moto_endpoint: str
) -> None:
    # When a user creates an EVENTBRIDGE subscription
    result = create(
        sim, moto_endpoint, "--type", "eventbridge", "--aws-account", ACCOUNT, "--aws-region", REGION
    )
    # Then SailPoint has it with the account and region, and the user is told the source to associate
    assert result.returncode == 0, result.stderr
    created: dict[str, Any] = json.loads(result.stdout)
    # (a tenant serializes every patchable field, so httpConfig is there, as null)
    assert created["type"] == "EVENTBRIDGE" and created.get("httpConfig") is None
    assert created["eventBridgeConfig"] == {"awsAccount": ACCOUNT, "awsRegion": REGION}
    assert partner_source_name(created["id"], TRIGGER) in result.stderr
    sim.reset()


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (["--type", "EVENTBRIDGE"], "need --aws-account and --aws-region"),
        (["--type", "EVENTBRIDGE", "--aws-account", "12345", "--aws-region", REGION], "12 digits"),
        (["--type", "EVENTBRIDGE", "--aws-account", ACCOUNT, "--aws-region", "mars"], "region name"),
        (
            ["--type", "EVENTBRIDGE", "--aws-account", ACCOUNT, "--aws-region", REGION, "--mode", "SYNC"],
            "answered through the callback",
        ),
        (["--aws-account", ACCOUNT], "go with --type EVENTBRIDGE"),
        ([], "need --url"),
    ],
)
def test_a_wrong_combination_is_a_usage_error(
    sim: TenantSimulator, moto_endpoint: str, extra: list[str], problem: str
) -> None:
    result = create(sim, moto_endpoint, *extra)
    assert result.returncode == 2 and problem in result.stderr
    assert sim.subscriptions() == []


def test_update_patches_the_eventbridge_config_in_place(sim: TenantSimulator, moto_endpoint: str) -> None:
    created = json.loads(
        create(
            sim, moto_endpoint, "--type", "EVENTBRIDGE", "--aws-account", ACCOUNT, "--aws-region", REGION
        ).stdout
    )
    result = cli(
        sim, moto_endpoint, "--json", "subscriptions", "update", created["id"], "--aws-region", "eu-west-1"
    )
    assert result.returncode == 0, result.stderr
    updated = json.loads(result.stdout)
    assert updated["id"] == created["id"]
    assert updated["eventBridgeConfig"] == {"awsAccount": ACCOUNT, "awsRegion": "eu-west-1"}
    refused = cli(
        sim, moto_endpoint, "subscriptions", "update", created["id"], "--url", "https://x.example/t"
    )
    assert refused.returncode == 2 and "this one is EVENTBRIDGE" in refused.stderr
    sim.reset()


def test_doctor_reports_a_pending_partner_source_until_it_is_associated(
    sim: TenantSimulator, moto_endpoint: str
) -> None:
    # Given an EVENTBRIDGE subscription whose source SailPoint created, not yet associated
    created = json.loads(
        create(
            sim, moto_endpoint, "--type", "EVENTBRIDGE", "--aws-account", ACCOUNT, "--aws-region", REGION
        ).stdout
    )
    source = partner_source_name(created["id"], TRIGGER)
    # When the user runs doctor, Then it names the pending source and how to associate it
    pending = cli(sim, moto_endpoint, "doctor")
    assert pending.returncode == 1
    assert "PENDING" in pending.stdout and source in pending.stdout
    # And once the bus is associated, the check passes
    events = boto3.client("events", endpoint_url=moto_endpoint, region_name=REGION)
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name=REGION)
    sqs.create_queue(QueueName="cli-work")
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:cli-work"
    buses = PartnerBuses(events)
    route = Route(work_queue_arn=arn, dead_letter_queue_arn=arn, rule_name="cli-to-work-queue")
    buses.associate(source, route)
    associated = cli(sim, moto_endpoint, "doctor")
    assert associated.returncode == 0, associated.stdout
    assert "1 EVENTBRIDGE subscription(s)" in associated.stdout and "PENDING" not in associated.stdout
    buses.dissociate(source, route.rule_name)
    sim.reset()
