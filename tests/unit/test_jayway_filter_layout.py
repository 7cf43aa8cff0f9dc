"""The Jayway evaluator stays legible: no function in tools/jayway_filter is longer than 80 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "tools/jayway_filter"
LIMIT = 80


def long_functions(source: str, filename: str) -> list[str]:
    """``file:line name (n lines)`` for every function or method longer than ``LIMIT`` lines."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno is not None
            first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
            length = node.end_lineno - first + 1
            if length > LIMIT:
                found.append(f"{filename}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_in_the_evaluator_is_longer_than_80_lines() -> None:
    modules = sorted(PACKAGE.glob("*.py"))

    too_long = [
        entry
        for module in modules
        for entry in long_functions(module.read_text(encoding="utf-8"), module.name)
    ]

    assert len(modules) >= 5
    assert too_long == []


def test_the_check_finds_a_long_nested_function() -> None:
    body = "\n".join(f"        x{n} = {n}" for n in range(LIMIT))
    source = f"class C:\n    def method(self):\n{body}\n"

    assert long_functions(source, "sample.py") == [f"sample.py:2 method ({LIMIT + 1} lines)"]
