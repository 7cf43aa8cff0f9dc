"""Every operator screen says what happened, through the installed entry points (issue: "every screen
tells the truth"): validated filters, the status SailPoint received, the decision, the invocation
column, ordered times, exit codes, help, and the local-mode paths a new user takes."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from idn_local.cli import write_cli_env_file
from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from idn_simulator import SimulatorConfig, TenantSimulator
from idn_triggers.archive import DeliveryArchive, answered_record, processed_record, s3_client
from idn_triggers.catalogue import TriggerType
from idn_triggers.envelope import ResponseMode
from idn_triggers.queue import recovered_invocation
from tests.support import ROOT

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent
CLIENT, SECRET = "truth-client", "truth-client-secret-value"
CREATED = "idn:identity-created"
PRE = "idn:access-request-pre-approval"
DYN = "idn:access-request-dynamic-approver"
NOW = datetime.now(UTC).replace(microsecond=0)


def fresh_env(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent", **extra}


def run(tool: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    result = subprocess.run(
        [str(BIN / tool), *args],
        capture_output=True,
        text=True,
        env=env or fresh_env(),
        timeout=120,
        check=False,
        cwd=cwd,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert SECRET not in result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def sim() -> Iterator[TenantSimulator]:
    simulator = TenantSimulator(
        SimulatorConfig(client_id=CLIENT, client_secret=SECRET, rate_limit_per_10s=None)
    ).start()
    yield simulator
    simulator.stop()


def tenant_env(sim: TenantSimulator, **extra: str) -> dict[str, str]:
    return fresh_env(
        SAILPOINT_TENANT_URL=sim.url, SAILPOINT_CLIENT_ID=CLIENT, SAILPOINT_CLIENT_SECRET=SECRET, **extra
    )


# -- the delivery archive's screens ---------------------------------------------------------------
@pytest.fixture
def archive(aws: str) -> DeliveryArchive:
    """An archive bucket holding a recovered event, a SYNC pre-approval, a dynamic approver's answer
    and two fire-and-forget deliveries within one second, as the functions write them."""
    s3 = s3_client(aws, "us-east-1")
    s3.create_bucket(Bucket="truth-archivebucket-1")
    store = DeliveryArchive("truth-archivebucket-1", s3)
    recovered = recovered_invocation(
        CREATED, "history-1", {"identity": {"id": "r1"}}, f"{CREATED}#x", now=NOW
    )
    store.put(processed_record(recovered, "processed", None, 1.0, NOW + timedelta(seconds=1)))
    for at, answer, trigger in (
        (NOW + timedelta(seconds=2), {"approved": True, "comment": "Ada asked", "approver": "policy"}, PRE),
        (NOW + timedelta(seconds=3), {"id": "2c91", "name": "Ada Lovelace", "type": "IDENTITY"}, DYN),
    ):
        store.put(
            answered_record(
                trigger_id=trigger,
                trigger_type=TriggerType.REQUEST_RESPONSE,
                mode=ResponseMode.SYNC,
                invocation_id=None,
                payload={"requestedFor": [{"name": "Ada"}]},
                status_code=200,
                outcome="answered",
                answer=answer,
                received_at=at,
                finished_at=at,
            )
        )
    return store


def ops(*args: str, aws: str) -> Any:
    return run("idn-triggers-ops", *args, "--endpoint-url", aws)


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--trigger", "idn:identity-creatd", "did you mean idn:identity-created"),
        ("--outcome", "bogus", "valid: answered, "),
        ("--outcome", "procesed", "did you mean processed"),
    ],
)
def test_a_misspelt_filter_is_a_usage_error_with_the_valid_values(
    archive: DeliveryArchive, aws: str, flag: str, value: str, says: str
) -> None:
    replay = ["events", "replay", "--since", "1h", "--dry-run", "--trigger", CREATED]
    replay = [*replay[:-1], value] if flag == "--trigger" else [*replay, flag, value]
    for args in (["events", "list", flag, value], replay):
        result = ops(*args, aws=aws)

        assert result.returncode == 2 and result.stdout == ""
        assert says in result.stderr, result.stderr


def test_events_list_shows_what_sailpoint_received_the_kind_and_a_labelled_key(
    archive: DeliveryArchive, aws: str
) -> None:
    result = ops("events", "list", "--since", "1h", aws=aws)

    assert result.returncode == 0, result.stderr
    header, recovered, pre, dyn, _ = result.stdout.splitlines()
    assert header.split()[-3:] == ["invocation", "or", "key"]
    assert "FIRE_AND_FORGET (RECOVERED)" in recovered and "  -  " in recovered  # never a 200 it was not
    assert " 200 " in pre and "key:" in pre  # SYNC: no SailPoint invocation id, our payload key, labelled
    # received to the millisecond, oldest first
    times = [line.split()[0] for line in (recovered, pre, dyn)]
    assert all(len(t) == len("2026-12-02T01:35:32.560Z") for t in times) and times == sorted(times)


def test_events_show_gives_the_decision_and_hides_personal_data(archive: DeliveryArchive, aws: str) -> None:
    listed = [
        json.loads(line)
        for line in ops("events", "list", "--since", "1h", "--json", aws=aws).stdout.splitlines()
    ]
    ids = {r["trigger_id"]: r["event_id"] for r in listed}

    pre = json.loads(ops("events", "show", ids[PRE], aws=aws).stdout)
    dyn = json.loads(ops("events", "show", ids[DYN], aws=aws).stdout)

    assert pre["answer"] == {"approved": True, "comment": "***", "approver": "policy"}
    assert dyn["answer"] == {"id": "2c91", "name": "***", "type": "IDENTITY"}
    assert pre["payload"] == {"requestedFor": [{"name": "***"}]}


def test_events_show_of_an_unknown_id_is_not_found_not_a_usage_error(
    archive: DeliveryArchive, aws: str
) -> None:
    unknown = ops("events", "show", "20200101T000000000000Z-00000000", aws=aws)
    malformed = ops("events", "show", "not-an-id", aws=aws)

    assert unknown.returncode == 3 and "no archived event" in unknown.stderr
    assert malformed.returncode == 2  # that one is a usage error


# -- idn-triggers-ops' help and usage ---------------------------------------------------------------
def test_ops_help_describes_the_whole_tool() -> None:
    result = run("idn-triggers-ops", "--help")

    assert result.returncode == 0
    for part in ("dead-letter", "archive", "replay", "recover"):
        assert part in result.stdout


@pytest.mark.parametrize(
    ("tool", "args", "usage"),
    [
        ("idn-triggers-ops", ("events", "list", "--bogus"), "usage: idn-triggers-ops events list"),
        ("idn-triggers-ops", ("dlq", "redrive", "--bogus"), "usage: idn-triggers-ops dlq redrive"),
        ("idn-triggers", ("subscriptions", "list", "--bogus"), "usage: idn-triggers subscriptions list"),
    ],
)
def test_an_unknown_flag_after_a_subcommand_shows_that_subcommands_usage(
    tool: str, args: tuple[str, ...], usage: str
) -> None:
    result = run(tool, *args)

    assert result.returncode == 2
    assert result.stderr.startswith(usage) and "unrecognized arguments: --bogus" in result.stderr


def test_dlq_events_finds_the_eventbridge_dead_letter_queue_by_its_name(aws: str) -> None:
    sqs = boto3.client("sqs", endpoint_url=aws, region_name="us-east-1")
    url = sqs.create_queue(QueueName="truth-EventsDeadLetterQueue")["QueueUrl"]
    sqs.create_queue(QueueName="truth-WorkQueue")
    sqs.send_message(
        QueueUrl=url, MessageBody=json.dumps({"detail-type": CREATED, "detail": {}, "source": "s"})
    )

    listed = ops("dlq", "list", "--events", aws=aws)
    moved = ops("dlq", "redrive", "--events", "--dry-run", aws=aws)

    assert listed.returncode == 0 and "1 dead-lettered message(s)" in listed.stdout
    assert "would move 1 message(s)" in moved.stdout and "(an EventBridge event)" in moved.stdout


# -- idn-triggers ----------------------------------------------------------------------------------
def test_a_tenant_url_without_its_scheme_is_named_as_the_problem(sim: TenantSimulator) -> None:
    result = run(
        "idn-triggers",
        "triggers",
        "list",
        env=tenant_env(sim) | {"SAILPOINT_TENANT_URL": "acme.api.identitynow.com"},
    )

    assert result.returncode == 2
    assert (
        "needs its scheme and host, e.g. https://" in result.stderr and "InvalidSchema" not in result.stderr
    )


def test_invoke_test_that_a_filter_drops_says_so(sim: TenantSimulator) -> None:
    created = run(
        "idn-triggers", "--json", "subscriptions", "create", "--trigger", CREATED, "--name", "filtered",
        "--url", "https://example.com/hook", "--auth", "none", "--filter", '$[?($.identity.name == "nobody")]',
        env=tenant_env(sim),
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    try:
        result = run("idn-triggers", "invoke-test", CREATED, env=tenant_env(sim))
    finally:
        run("idn-triggers", "subscriptions", "delete", json.loads(created.stdout)["id"], env=tenant_env(sim))

    assert result.returncode == 0
    assert f"1 subscription(s) to {CREATED} exist, none received the test" in result.stderr
    assert "with a filter the input does not match" in result.stderr
    assert "no subscription" not in result.stderr


def test_doctor_checks_partner_sources_in_local_mode_with_the_cli_env_file() -> None:
    options = LocalOptions(
        port=0, auth=InboundAuth.parse("bearer:truth-token"), parameter_overrides={"Transport": "BOTH"}
    )
    with LocalRunner(options) as runner:
        env_file = write_cli_env_file(runner)
        assert env_file is not None
        values = dict(shlex.split(line)[0].split("=", 1) for line in env_file.read_text().splitlines())
        env = fresh_env(**values)
        created = run(
            "idn-triggers", "--json", "subscriptions", "create", "--type", "EVENTBRIDGE", "--trigger", CREATED,
            "--name", "eb", "--aws-account", "123456789012", "--aws-region", "us-east-1", env=env,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        doctor = run("idn-triggers", "--json", "doctor", env=env)
    env_file.unlink()

    [partner] = [c for c in json.loads(doctor.stdout) if c["check"] == "partner event sources associated"]
    assert partner["ok"] is not None, partner  # checked, in moto: not "unchecked ... NoCredentialsError"
    assert "not checked" not in partner["detail"]


# -- the repository's scripts and the simulator -----------------------------------------------------
def test_no_file_named_help_is_tracked_and_template_variant_answers_help(tmp_path: Path) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "--", "--help"], capture_output=True, text=True, cwd=ROOT, check=True
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "template_variant.py"), "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )

    assert tracked.stdout == ""
    assert result.returncode == 0 and result.stdout.startswith("usage: template_variant.py")
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_recovery_demo_help_prints_help_and_runs_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "idn_local.recovery_demo", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0 and result.stdout.startswith("usage: python -m idn_local.recovery_demo")
    assert "the reconciler function runs once" in result.stdout and "1. the local receiver" in result.stdout
    assert "handled invocation" not in result.stdout  # the story did not run


def test_the_simulators_fault_endpoints_do_what_the_readme_says(sim: TenantSimulator) -> None:
    readme = (ROOT / "README.md").read_text()
    assert "`DELETE /_sim/faults` clears every fault" in readme and '`{"drop_connection": true}`' in readme

    added = requests.post(f"{sim.url}/_sim/faults", json={"deliveries": {"drop_connection": True}}, timeout=5)
    cleared = requests.delete(f"{sim.url}/_sim/faults", timeout=5)
    pending = requests.get(f"{sim.url}/_sim/faults", timeout=5).json()

    assert added.status_code == 200 and added.json()["deliveries"][0]["reset"] is True
    assert cleared.status_code == 204 and all(faults == [] for faults in pending.values())


def test_the_simulators_fire_event_body_is_the_documented_one(sim: TenantSimulator) -> None:
    fired = requests.post(f"{sim.url}/_sim/events", json={"triggerId": CREATED}, timeout=5)

    assert fired.status_code == 200 and fired.json() == []  # no subscription: nobody to deliver to


def test_make_run_does_not_build_checkov_but_make_test_does(tmp_path: Path) -> None:
    def planned(target: str) -> str:
        return subprocess.run(
            ["make", "-n", target, f"VENV={tmp_path / 'venv'}", f"PYTHON={sys.executable}"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout

    assert "checkov" not in planned("run")
    assert "checkov" in planned("test") and "checkov" in planned("validate")
