"""Cost of a Jayway subscription filter, as a ratio to a plain dictionary lookup of the same path.

For each filter: the lookup (a function doing ``payload[...][...]`` on the path the filter reads),
evaluating the compiled filter on a warm process (``CompiledFilter.matches``), the public
``matches()`` (adds the compile cache lookup), and compiling it (``compile_filter`` bypassing its
cache). Medians of ``--repeat`` batches of ``--number`` calls; nothing is asserted.

    python bench/filter_cost.py [--number N] [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import table

from idn_triggers.catalogue import trigger_document
from jayway_filter import compile_filter, matches


def example(trigger_id: str) -> dict[str, Any]:
    data: dict[str, Any] = trigger_document(trigger_id)["exampleInput"]
    return data


CHANGED = example("idn:identity-attributes-changed")
PRE_APPROVAL = example("idn:access-request-pre-approval")
AGGREGATION = example("idn:account-aggregation-completed")

# (filter, payload, the plain lookup of the path it reads)
CASES: list[tuple[str, dict[str, Any], Callable[[dict[str, Any]], object]]] = [
    ('$[?($.identity.type == "IDENTITY")]', CHANGED, lambda p: p["identity"]["type"]),
    ("$.identity.name", CHANGED, lambda p: p["identity"]["name"]),
    (
        '$.changes[?(@.attribute in ["department", "manager"])]',
        CHANGED,
        lambda p: [c["attribute"] for c in p["changes"]],
    ),
    ("$[?(@.identity.name =~ /william.*/i)]", CHANGED, lambda p: p["identity"]["name"]),
    (
        '$.requestedItems[?(@.type == "ACCESS_PROFILE" && @.operation != "Remove")]',
        PRE_APPROVAL,
        lambda p: [(i["type"], i["operation"]) for i in p["requestedItems"]],
    ),
    (
        "$[?(@.stats.changed > 5 && @.errors size 1)]",
        AGGREGATION,
        lambda p: (p["stats"]["changed"], p["errors"]),
    ),
    (
        '$[?($.changes[*].attribute anyof ["manager", "department"])]',
        CHANGED,
        lambda p: [c["attribute"] for c in p["changes"]],
    ),
]


def per_call_ns(call: Callable[..., object], number: int, repeat: int) -> float:
    """Median nanoseconds per `call()`. `...`: the calls bind their loop values as default arguments,
    a lambda mypy cannot check against `Callable[[], object]`."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(number):
            call()
        samples.append((time.perf_counter_ns() - start) / number)
    return statistics.median(samples)


def first_compile_ms(runs: int) -> float:
    """Import of the module plus the first compile (imports python-jsonpath) in fresh processes."""
    code = (
        "import time; t = time.perf_counter(); from jayway_filter import compile_filter; "
        "compile_filter('$[?(@.a == 1)]'); print(time.perf_counter() - t)"
    )
    samples = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(samples) * 1000


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=2000, help="calls per timed batch")
    parser.add_argument("--repeat", type=int, default=51, help="timed batches (the median is reported)")
    args = parser.parse_args(argv)

    rows = [("filter", "lookup ns", "eval ns", "x lookup", "matches() ns", "compile us", "x lookup")]
    figures: dict[str, object] = {}
    for expression, payload, lookup in CASES:
        compiled = compile_filter(expression)
        assert compiled.matches(payload), expression  # every case selects something
        base = per_call_ns(lambda lookup=lookup, payload=payload: lookup(payload), args.number, args.repeat)
        warm = per_call_ns(
            lambda compiled=compiled, payload=payload: compiled.matches(payload), args.number, args.repeat
        )
        public = per_call_ns(
            lambda expression=expression, payload=payload: matches(expression, payload),
            args.number,
            args.repeat,
        )
        compile_ns = per_call_ns(
            lambda expression=expression: compile_filter.__wrapped__(expression),
            max(1, args.number // 20),
            args.repeat,
        )
        rows.append(
            (
                expression if len(expression) <= 60 else expression[:57] + "...",
                f"{base:.0f}",
                f"{warm:.0f}",
                f"{warm / base:.0f}x",
                f"{public:.0f}",
                f"{compile_ns / 1000:.1f}",
                f"{compile_ns / base:.0f}x",
            )
        )
        figures[expression] = {
            "lookup_ns": round(base),
            "evaluate_ns": round(warm),
            "evaluate_x_lookup": round(warm / base, 1),
            "matches_ns": round(public),
            "compile_ns": round(compile_ns),
            "compile_x_lookup": round(compile_ns / base, 1),
        }
    cold = first_compile_ms(5)
    figures["first_compile_in_fresh_process_ms"] = round(cold, 1)
    print(table(rows))
    print(f"\nimport + first compile in a fresh process (loads python-jsonpath): {cold:.1f} ms (median of 5)")
    print(f"medians of {args.repeat} batches of {args.number} calls; Python {sys.version.split()[0]}")
    return figures


if __name__ == "__main__":
    main()
