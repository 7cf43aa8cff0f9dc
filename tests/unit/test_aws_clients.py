"""Clients built on first use are built once, however many threads ask at the same moment (local
mode's gateway and the worker's records run in threads; a client per thread cost seconds)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from idn_triggers.aws_clients import BuiltOnce


def test_threads_arriving_together_share_one_build() -> None:
    builds: list[object] = []

    def build() -> object:
        time.sleep(0.05)  # long enough for every thread to arrive before the first build ends
        builds.append(object())
        return builds[-1]

    once = BuiltOnce(build)
    start = threading.Barrier(32)

    def get(_: int) -> object:
        start.wait()
        return once.get()

    with ThreadPoolExecutor(max_workers=32) as pool:
        got = list(pool.map(get, range(32)))

    assert len(builds) == 1 and all(each is builds[0] for each in got)


def test_a_given_value_is_used_and_reset_builds_anew() -> None:
    given = object()
    once = BuiltOnce(object, given)
    assert once.get() is given and once.built
    once.reset()
    assert not once.built
    rebuilt = once.get()
    assert rebuilt is not given and once.get() is rebuilt
