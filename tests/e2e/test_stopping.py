"""SIGTERM stops `make simulator` and `make run` within seconds, every time, even under load.

Both used to set a threading.Event from the SIGTERM handler while the main thread waited on it: the
handler could block for good on the Event's own lock. This sends SIGTERM to 20 fresh processes (17
simulators, 3 local-mode stacks), each at a random moment while requests are in flight, several at
once so the machine is busy, and requires every one to exit cleanly within STOP_SECONDS. (It sent
50; 20 keeps every kind of stop under load at a third of the time `make test` spends here.)
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
STOP_SECONDS = 8.0  # "within a few seconds"; a hung process never exits at all
SIMULATOR_STOPS = 17
LOCAL_MODE_STOPS = 3
AT_ONCE = 4
EVENT = json.loads((ROOT / "events/api/identity-created.json").read_text())["body"]


@dataclass
class Stop:
    """How one process ended after its SIGTERM."""

    what: str
    seconds: float | None  # None: still running after STOP_SECONDS (hung; killed)
    returncode: int | None
    stderr: str


def command(what: str) -> list[str]:
    if what == "simulator":
        return [sys.executable, "-m", "idn_simulator", "--port", "0", "--rate-limit", "0"]
    return [
        sys.executable,
        "-m",
        "idn_local",
        "--port",
        "0",
        "--no-demo",
    ]  # the inbound token comes from IDN_LOCAL_AUTH (below), never argv


def target(what: str, stdout: list[str]) -> tuple[str, dict[str, str], str]:
    """(url, headers, body) of a request that does real work in the process."""
    if what == "simulator":
        url = next(line for line in stdout if "listening on" in line).split("listening on ")[1].split()[0]
        return f"{url}/oauth/token", {"Content-Type": "application/x-www-form-urlencoded"}, "grant_type=x"
    receiver = next(line for line in stdout if line.startswith("Receiver:")).split()[1]
    return (
        receiver.replace("{triggerId}", "idn:identity-created"),
        {"Authorization": "Bearer stop-test-token", "Content-Type": "application/json"},
        str(EVENT),
    )


def load(url: str, headers: dict[str, str], body: str, until: threading.Event) -> None:
    """Send requests back to back until told to stop; failures (the process going away) are expected."""
    with requests.Session() as session:
        while not until.is_set():
            try:
                session.post(url, data=body, headers=headers, timeout=2)
            except requests.RequestException:
                time.sleep(0.01)


def start_load_and_stop(what: str, seed: int) -> Stop:
    rng = random.Random(seed)  # noqa: S311  # when to stop, not a secret
    process = subprocess.Popen(
        command(what),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a hung one dumps its threads on SIGABRT
        env={**os.environ, "PYTHONFAULTHANDLER": "1", "IDN_LOCAL_AUTH": "bearer:stop-test-token"},
    )
    assert process.stdout is not None
    stdout = []
    for line in process.stdout:  # until ready
        stdout.append(line)
        if line.startswith("Serving") or "listening on" in line:
            break
    done = threading.Event()
    senders = [
        threading.Thread(target=load, args=(*target(what, stdout), done), daemon=True) for _ in range(3)
    ]
    for sender in senders:
        sender.start()
    time.sleep(rng.uniform(0.05, 0.6))  # a random moment, requests in flight
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    try:
        _, stderr = process.communicate(timeout=STOP_SECONDS)
        seconds: float | None = time.monotonic() - sent
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # where it hangs, in stderr
        _, stderr = process.communicate()
        seconds = None
    finally:
        done.set()
        for sender in senders:
            sender.join()
    return Stop(what, seconds, process.returncode, stderr)


def main_thread(stderr: str) -> str:
    """Where the main thread was, from the faulthandler dump SIGABRT wrote."""
    _, found, rest = stderr.partition("Current thread")
    return (found + rest)[:1500] if found else stderr[-1500:]


def test_sigterm_stops_simulators_and_local_mode_under_load_every_time() -> None:
    plan = ["simulator"] * SIMULATOR_STOPS
    for index in range(LOCAL_MODE_STOPS):  # spread out: each local-mode start costs seconds of CPU
        plan.insert(index * (len(plan) // LOCAL_MODE_STOPS), "local")
    with ThreadPoolExecutor(AT_ONCE) as pool:
        stops = list(pool.map(start_load_and_stop, plan, range(len(plan))))

    hung = [(stop.what, main_thread(stop.stderr)) for stop in stops if stop.seconds is None]
    unclean = [
        (stop.what, stop.returncode, stop.stderr[-500:])
        for stop in stops
        if stop.returncode != 0 and stop.seconds is not None
    ]
    tracebacks = [stop.stderr[-1500:] for stop in stops if "Traceback" in stop.stderr]
    assert len(stops) == SIMULATOR_STOPS + LOCAL_MODE_STOPS
    assert hung == []
    assert unclean == []
    assert tracebacks == []
