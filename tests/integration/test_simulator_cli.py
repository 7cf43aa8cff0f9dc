"""``python -m idn_simulator`` as a person runs it: help, startup line, Ctrl-C, port in use."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from tests.support import ROOT

pytestmark = pytest.mark.timeout(30)
COMMAND = [sys.executable, "-m", "idn_simulator"]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something else is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_help_describes_the_options() -> None:
    result = subprocess.run(
        [*COMMAND, "--help"], check=False, capture_output=True, text=True, timeout=20, cwd=ROOT
    )

    assert result.returncode == 0
    for option in ("--host", "--port", "--client-id", "--client-secret", "--token-lifetime", "--rate-limit"):
        assert option in result.stdout


def test_port_in_use_is_a_one_line_error_with_exit_code_2(busy_port: int) -> None:
    result = subprocess.run(
        [*COMMAND, "--port", str(busy_port), "--client-id", "c", "--client-secret", "s"],
        check=False,
        capture_output=True,
        text=True,
        timeout=20,
        cwd=ROOT,
    )

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert str(busy_port) in result.stderr
    assert "Traceback" not in result.stderr


def test_serves_the_given_client_and_stops_cleanly_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [
            *COMMAND,
            "--port",
            "0",
            "--client-id",
            "cli-client",
            "--client-secret",
            "cli-secret",
            "--log-level",
            "ERROR",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        startup = process.stdout.readline()
        url = startup.split(" listening on ")[1].split()[0]
        token = requests.post(
            f"{url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "cli-client",
                "client_secret": "cli-secret",
            },
            timeout=5,
        )

        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert token.status_code == 200
    assert "cli-secret" not in startup
    assert process.returncode == 0
    assert "Traceback" not in stderr
    assert "stopped" in stdout


def test_generates_and_prints_credentials_when_none_are_given() -> None:
    process = subprocess.Popen(
        [*COMMAND, "--port", "0", "--log-level", "ERROR"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()
        credentials = process.stdout.readline()
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert "client_id=" in credentials and "client_secret=" in credentials
    assert process.returncode == 0
