"""Local mode's stdout keeps each thread's lines whole (print() writes text and newline apart)."""

from __future__ import annotations

import io
import threading

from idn_local.line_output import LineAtomicWriter


def test_lines_printed_by_many_threads_stay_whole() -> None:
    # Given one stream shared by threads that print their text and their newline separately
    target = io.StringIO()
    writer = LineAtomicWriter(target)
    start = threading.Barrier(8)

    def chatter(n: int) -> None:
        start.wait()
        for i in range(200):
            writer.write(f'{{"thread": {n}, "i": {i}}}')
            writer.write("\n")

    threads = [threading.Thread(target=chatter, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every line is exactly one document
    lines = target.getvalue().splitlines()
    assert len(lines) == 1600
    assert all(line.count("{") == 1 and line.endswith("}") for line in lines)


def test_a_partial_line_is_written_on_flush() -> None:
    target = io.StringIO()
    writer = LineAtomicWriter(target)
    writer.write("Serving; press Ctrl-C")
    assert target.getvalue() == ""
    writer.flush()
    assert target.getvalue() == "Serving; press Ctrl-C"
