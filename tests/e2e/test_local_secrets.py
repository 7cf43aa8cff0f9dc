"""Issue 27 item 5: `make run` with the README's real-tenant flags shows no secret in the terminal or
in `ps`. Secrets come from SAILPOINT_CLIENT_SECRET / IDN_LOCAL_AUTH (or --client-secret-file); a
secret given on the command line is refused without being repeated. The "real tenant" is the
simulator, reached through --tenant-url like a real one."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from idn_simulator import SimulatorConfig, TenantSimulator
from tests.support import ROOT

pytestmark = pytest.mark.e2e
CLIENT_ID = "real-tenant-client"
CLIENT_SECRET = "real-tenant-client-secret-7f3a"
INBOUND = "chosen-inbound-bearer-9c1d"


@pytest.fixture(scope="module")
def tenant() -> Iterator[TenantSimulator]:
    sim = TenantSimulator(SimulatorConfig(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)).start()
    yield sim
    sim.stop()


def make_run(args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["make", "--no-print-directory", "run", f"ARGS={args}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # one process group: make and local mode stop together
    )


def command_lines() -> str:
    """Every process's command line, as `ps` shows them to any user."""
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return "\n".join(lines)


def test_a_secret_on_the_command_line_is_refused_without_being_repeated() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SAILPOINT_CLIENT_SECRET", "IDN_LOCAL_AUTH")}
    for args in (
        f"--tenant-url https://127.0.0.1:9 --client-id x --client-secret {CLIENT_SECRET} --no-demo",
        f"--auth bearer:{INBOUND} --no-demo --exit-after-demo",
        f"--auth basic:user:{INBOUND} --no-demo --exit-after-demo",
    ):
        process = make_run(args, env)
        output, _ = process.communicate(timeout=120)
        assert process.returncode != 0, output
        assert CLIENT_SECRET not in output and INBOUND not in output, output
        assert "command line" in output and "Traceback" not in output


def test_make_run_against_a_real_tenant_shows_no_secret_in_the_terminal_or_ps(
    tenant: TenantSimulator,
) -> None:
    env = {**os.environ, "SAILPOINT_CLIENT_SECRET": CLIENT_SECRET, "IDN_LOCAL_AUTH": f"bearer:{INBOUND}"}
    process = make_run(f"--tenant-url {tenant.url} --client-id {CLIENT_ID} --port 0 --no-demo", env)
    assert process.stdout is not None
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while not any("Serving" in line for line in seen):
            assert time.monotonic() < deadline and process.poll() is None, "".join(seen)
            seen.append(process.stdout.readline())
        processes = command_lines()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        rest, _ = process.communicate(timeout=60)
    terminal = "".join(seen) + rest
    assert "Receiver:" in terminal and "not shown" in terminal
    for secret in (CLIENT_SECRET, INBOUND):
        assert secret not in terminal, terminal
        assert secret not in processes


def test_a_plain_http_tenant_is_refused_before_the_client_secret_is_sent() -> None:
    env = {**os.environ, "SAILPOINT_CLIENT_SECRET": CLIENT_SECRET}
    process = make_run("--tenant-url http://acme.api.identitynow.com --client-id x --no-demo --port 0", env)
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0 and "must be https://" in output and "Traceback" not in output
