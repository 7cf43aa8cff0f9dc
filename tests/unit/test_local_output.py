"""Local mode's stdout is the user's: what a function prints while it runs (Powertools Metrics' EMF
lines, written as text then newline) goes to the log stream, each line whole, whatever the threads."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import pytest

from idn_local import logs


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    target = io.StringIO()
    previous = logs._routing.destination
    logs._routing.destination = logs.SerialStream(target)
    yield target
    logs._routing.destination = previous


def test_lines_printed_by_functions_in_many_threads_stay_whole(log_stream: io.StringIO) -> None:
    # Given functions running in 8 threads that print their text and their newline separately
    user = io.StringIO()
    output = logs.FunctionOutput(user)
    start = threading.Barrier(8)

    def function_prints(n: int) -> None:
        logs.CURRENT_FUNCTION.set({"function_name": f"Function{n}"})
        start.wait()
        for i in range(200):
            output.write(f'{{"thread": {n}, "i": {i}}}')
            output.write("\n")

    threads = [threading.Thread(target=function_prints, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every line went to the logs as exactly one document, and none to the user's stdout
    lines = log_stream.getvalue().splitlines()
    assert len(lines) == 1600
    assert all(line.count("{") == 1 and line.endswith("}") for line in lines)
    assert user.getvalue() == ""


def test_output_outside_a_function_is_the_users(log_stream: io.StringIO) -> None:
    user = io.StringIO()
    output = logs.FunctionOutput(user)

    print("Serving; press Ctrl-C", file=output)

    assert user.getvalue() == "Serving; press Ctrl-C\n"
    assert log_stream.getvalue() == ""
