"""`idn-triggers` and `idn-triggers-ops` as a new user runs them: the installed scripts, in a fresh
environment (no AWS or SailPoint variables beyond what the README says to set), flags in any order,
output piped into a reader that goes away. Never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from idn_simulator import SimulatorConfig, TenantSimulator
from idn_tools import ops, tenant_cli
from idn_tools.cli_support import undocumented_options
from idn_triggers.eventbridge import partner_source_name
from tests.integration.conftest_simulator import running_receiver

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
CLIENT, SECRET = "entry-client", "entry-client-secret-value"


@pytest.fixture(scope="module")
def sim() -> Iterator[TenantSimulator]:
    simulator = TenantSimulator(
        SimulatorConfig(client_id=CLIENT, client_secret=SECRET, rate_limit_per_10s=None)
    ).start()
    yield simulator
    simulator.stop()


def fresh_env(**extra: str) -> dict[str, str]:
    """What a new shell has: no AWS_* (so no region, no credentials), no SAILPOINT_*."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent", **extra}


def tenant_env(sim: TenantSimulator, **extra: str) -> dict[str, str]:
    return fresh_env(
        SAILPOINT_TENANT_URL=sim.url, SAILPOINT_CLIENT_ID=CLIENT, SAILPOINT_CLIENT_SECRET=SECRET, **extra
    )


def run(
    tool: str, *args: str, env: dict[str, str], closed_stdout: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the installed script. `closed_stdout`: the reader is gone before anything is written
    (what `| head` does once it has its lines), so every write meets a closed pipe."""
    if closed_stdout:
        process = subprocess.Popen(
            [str(BIN / tool), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        stderr = process.stderr.read()
        process.wait(timeout=60)
        result = subprocess.CompletedProcess(process.args, process.returncode, "", stderr)
    else:
        result = subprocess.run(
            [str(BIN / tool), *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )
    assert "Traceback" not in result.stderr, result.stderr
    assert SECRET not in result.stdout + result.stderr
    return result


# -- idn-triggers-ops --------------------------------------------------------------------------
def dead_letters(endpoint: str, count: int) -> str:
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    dlq = sqs.create_queue(QueueName="entry-DeadLetterQueue")["QueueUrl"]
    sqs.create_queue(QueueName="entry-WorkQueue")
    for index in range(count):
        sqs.send_message(
            QueueUrl=dlq,
            MessageBody="{}",
            MessageAttributes={
                "invocationId": {"DataType": "String", "StringValue": f"inv-{index}"},
                "reason": {"DataType": "String", "StringValue": "handler failed on all 3 attempts"},
            },
        )
    return dlq


def test_ops_endpoint_url_alone_lists_the_dlq_without_aws_configuration(aws: str) -> None:
    dead_letters(aws, 2)

    result = run("idn-triggers-ops", "dlq", "list", "--endpoint-url", aws, env=fresh_env())

    assert result.returncode == 0, result.stderr
    assert "inv-0" in result.stdout and "inv-1" in result.stdout


def test_ops_listing_twice_shows_the_same_messages(aws: str) -> None:
    dead_letters(aws, 12)  # more than one receive batch

    first = run("idn-triggers-ops", "--json", "dlq", "list", "--endpoint-url", aws, env=fresh_env())
    second = run("idn-triggers-ops", "dlq", "list", "--endpoint-url", aws, "--json", env=fresh_env())

    ids = [
        sorted(json.loads(line)["invocation_id"] for line in r.stdout.splitlines()) for r in (first, second)
    ]
    assert ids[0] == ids[1] == sorted(f"inv-{i}" for i in range(12))


def test_ops_events_with_endpoint_url_alone_needs_no_aws_configuration(aws: str) -> None:
    s3 = boto3.client("s3", endpoint_url=aws, region_name="us-east-1")
    s3.create_bucket(Bucket="entry-archivebucket-1")

    result = run("idn-triggers-ops", "events", "list", "--endpoint-url", aws, "--json", env=fresh_env())

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # an empty archive: nothing listed, and no credential or region error


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("recover", "--since", "1h", "--stack-name", "s"), 2, "no AWS region"),
        (("recover", "--since", "1h", "--stack-name", "s", "--region", "us-east-1"), 2, "credentials"),
        (("recover", "--since", "1h", "--table", "t", "--queue-url", "https://sqs.example/1/q"), 2, "region"),
        (("recover", "--since", "1h", "--endpoint-url", "http://127.0.0.1:9"), 3, "Could not connect"),
        (("events", "list", "--bucket", "b", "--region", "us-east-1"), 2, "no AWS credentials"),
        (("events", "list", "--endpoint-url", "http://127.0.0.1:9"), 3, "Could not connect"),
        (("dlq", "list", "--endpoint-url", "http://127.0.0.1:9"), 3, "Could not connect"),
    ],
)
def test_ops_aws_problems_are_one_line_with_the_readmes_exit_code(
    sim: TenantSimulator, args: tuple[str, ...], code: int, says: str
) -> None:
    # A shell with a tenant configured and nothing for AWS
    result = run("idn-triggers-ops", *args, env=tenant_env(sim))

    assert result.returncode == code, result.stderr
    assert result.stderr.startswith("error: ") and says in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_ops_without_a_queue_or_region_says_what_to_give(aws: str) -> None:
    nothing = run("idn-triggers-ops", "dlq", "list", env=fresh_env())
    no_region = run(
        "idn-triggers-ops", "dlq", "list", "--queue-url", "https://sqs.example/1/q", env=fresh_env()
    )

    assert nothing.returncode == 2 and "--endpoint-url" in nothing.stderr
    assert no_region.returncode == 2 and "--region" in no_region.stderr


def test_ops_output_into_a_closed_pipe_ends_quietly(aws: str) -> None:
    dead_letters(aws, 3)

    result = run(
        "idn-triggers-ops", "dlq", "list", "--endpoint-url", aws, env=fresh_env(), closed_stdout=True
    )

    assert result.returncode == 0 and result.stderr == ""


@pytest.mark.parametrize(
    ("tool", "args"), [("idn-triggers-ops", ("recover",)), ("idn-triggers", ("subscriptions", "create"))]
)
def test_a_usage_error_into_a_closed_pipe_keeps_its_exit_code(tool: str, args: tuple[str, ...]) -> None:
    # `tool ... 2>&1 | head -1`: the reader is gone before the usage message is written
    process = subprocess.Popen(
        [str(BIN / tool), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=fresh_env()
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    process.stderr.close()

    assert process.wait(timeout=60) == 2  # not 120, the interpreter's "could not flush" code


# -- idn-triggers ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ("--json", "triggers", "list", "--offline"),
        ("triggers", "list", "--offline", "--json"),
        ("triggers", "--json", "list", "--offline"),
    ],
)
def test_global_flags_are_accepted_before_or_after_the_subcommand(args: tuple[str, ...]) -> None:
    result = run("idn-triggers", *args, env=fresh_env())

    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 42


@pytest.mark.parametrize(
    "args", [("--json", "triggers", "list"), ("invocations", "status"), ("triggers", "list", "--offline")]
)
def test_output_into_a_closed_pipe_ends_quietly(sim: TenantSimulator, args: tuple[str, ...]) -> None:
    result = run("idn-triggers", *args, env=tenant_env(sim), closed_stdout=True)

    assert result.returncode == 0 and result.stderr == ""


def test_doctor_on_an_unreachable_tenant_exits_3(sim: TenantSimulator) -> None:
    result = run(
        "idn-triggers", "doctor", env=tenant_env(sim) | {"SAILPOINT_TENANT_URL": "http://127.0.0.1:9"}
    )

    assert result.returncode == 3
    assert "unreachable" in result.stdout


def test_doctor_drift_against_a_tenant_with_the_shipped_catalogue(sim: TenantSimulator) -> None:
    result = run("idn-triggers", "doctor", "--drift", "--json", env=tenant_env(sim))

    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["drift"] == []


def test_doctor_says_unchecked_rather_than_ok_for_a_partner_source_it_cannot_see(
    sim: TenantSimulator, aws: str
) -> None:
    subscribed = run(
        "idn-triggers", "--json", "subscriptions", "create", "--type", "EVENTBRIDGE", "--trigger",
        "idn:identity-created", "--name", "eb", "--aws-account", "123456789012", "--aws-region", "us-east-1",
        env=tenant_env(sim),
    )  # fmt: skip
    assert subscribed.returncode == 0, subscribed.stderr
    subscription = json.loads(subscribed.stdout)
    # SailPoint has offered the source to the account (moto's), and no bus is associated yet
    boto3.client("events", endpoint_url=aws, region_name="us-east-1").create_partner_event_source(
        Name=partner_source_name(subscription["id"], subscription["triggerId"]), Account="123456789012"
    )
    try:
        # Without AWS credentials the source cannot be looked up: said so, and nothing fails
        blind = run("idn-triggers", "--json", "doctor", env=tenant_env(sim))
        # With them: the pending source is a failure, with the fix
        seen = run(
            "idn-triggers", "--json", "doctor",
            env=tenant_env(sim, AWS_ENDPOINT_URL=aws, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x"),
        )  # fmt: skip
    finally:
        run("idn-triggers", "subscriptions", "delete", subscription["id"], env=tenant_env(sim))

    def partner_check(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
        checks = json.loads(result.stdout)
        return next(c for c in checks if c["check"] == "partner event sources associated")

    assert blind.returncode == 0 and partner_check(blind)["ok"] is None
    assert "not checked with your AWS credentials" in partner_check(blind)["detail"]
    assert seen.returncode == 1 and partner_check(seen)["ok"] is False
    assert "PENDING (associate: deploy with PartnerEventSources=" in partner_check(seen)["detail"]


def create(sim: TenantSimulator, *args: str, env: dict[str, str] | None = None) -> Any:
    return run(
        "idn-triggers",
        "subscriptions",
        "create",
        "--name",
        "entry-points",
        *args,
        env=tenant_env(sim, **(env or {})),
    )


def test_create_without_an_auth_choice_is_refused_and_none_must_be_explicit(sim: TenantSimulator) -> None:
    url = "https://example.com/v1/triggers/idn:identity-created"
    refused = create(sim, "--trigger", "idn:identity-created", "--url", url)
    created = create(sim, "--trigger", "idn:identity-created", "--url", url, "--auth", "none")

    assert refused.returncode == 2 and "--auth none" in refused.stderr
    assert created.returncode == 0, created.stderr
    header, _, row = created.stdout.splitlines()
    mode = row.split()[header.split().index("mode")]
    assert mode == "-"  # a fire-and-forget trigger has no response mode
    assert "NO_AUTH" in row
    subscription_id = row.split()[0]
    deleted = run("idn-triggers", "subscriptions", "delete", subscription_id, env=tenant_env(sim))
    assert deleted.stdout.strip() == f"deleted subscription {subscription_id}"


def test_create_refuses_a_mode_for_a_fire_and_forget_trigger(sim: TenantSimulator) -> None:
    url = "https://example.com/v1/triggers/idn:identity-created"
    result = create(
        sim, "--trigger", "idn:identity-created", "--url", url, "--auth", "none", "--mode", "ASYNC"
    )

    assert result.returncode == 2 and "fire-and-forget" in result.stderr


def test_update_sets_the_credential_sailpoint_sends(sim: TenantSimulator) -> None:
    with running_receiver() as receiver:
        created = create(
            sim, "--trigger", "idn:identity-created", "--url", receiver.url, "--auth", "none", "--json"
        )
        subscription_id = json.loads(created.stdout)["id"]
        updated = run(
            "idn-triggers",
            "subscriptions",
            "update",
            subscription_id,
            "--bearer-token-env",
            "NEW_TOKEN",
            env=tenant_env(sim, NEW_TOKEN="rotated-by-cli"),
        )
        run(
            "idn-triggers",
            "invoke-test",
            "idn:identity-created",
            "--subscription",
            subscription_id,
            env=tenant_env(sim),
        )
        [delivered] = receiver.wait_for(1)
        run("idn-triggers", "subscriptions", "delete", subscription_id, env=tenant_env(sim))

    assert updated.returncode == 0, updated.stderr
    assert "BEARER_TOKEN" in updated.stdout and "rotated-by-cli" not in updated.stdout
    assert delivered.headers["Authorization"] == "Bearer rotated-by-cli"


def test_filter_check_names_the_missing_path() -> None:
    result = run(
        "idn-triggers",
        "filter",
        "check",
        '$[?($.identity.shoeSize == "x")]',
        "--trigger",
        "idn:identity-created",
        env=fresh_env(),
    )

    assert result.returncode == 1
    assert "$['identity']['shoeSize'] does not exist" in result.stdout


@pytest.mark.parametrize("parser", [tenant_cli.build_parser, ops.build_parser])
def test_every_flag_and_subcommand_has_help(parser: Any) -> None:
    assert undocumented_options(parser()) == []
