"""The layer holds exactly what some function or handler imports (docs/architecture.md).

The import graph comes from grimp (import-linter's engine): every module of `idn_triggers` must be
reachable from a function's `app.py` or from a handler module. Handler modules are loaded by name
(the registry's rule) and trigger models by dotted path (the catalogue), so those are roots too.
"""

from __future__ import annotations

from collections.abc import Iterable

import grimp
import pytest

from idn_triggers.catalogue import GENERIC_INPUT_MODEL, GENERIC_OUTPUT_MODEL, TRIGGER_MODELS

LAYER_PACKAGES = ("idn_triggers", "trigger_handlers")


def _with_ancestors(module: str) -> set[str]:
    """Importing a.b.c runs a/__init__ and a/b/__init__ as well."""
    parts = module.split(".")
    return {".".join(parts[:end]) for end in range(1, len(parts) + 1)}


def unreachable(graph: grimp.ImportGraph, roots: Iterable[str], package: str) -> set[str]:
    """Modules of `package` that no chain of imports from `roots` reaches."""
    seen: set[str] = set()
    pending = [module for root in roots for module in _with_ancestors(root) if module in graph.modules]
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            pending.extend(_with_ancestors(imported) - seen)
    members = {m for m in graph.modules if m == package or m.startswith(package + ".")}
    return members - seen


def product_roots(graph: grimp.ImportGraph) -> set[str]:
    functions = {m for m in graph.modules if m.startswith("functions.") and m.endswith(".app")}
    handlers = {m for m in graph.modules if m.startswith("trigger_handlers.")}
    models = {path.rpartition(".")[0] for pair in TRIGGER_MODELS.values() for path in pair if path}
    models |= {GENERIC_INPUT_MODEL.rpartition(".")[0], GENERIC_OUTPUT_MODEL.rpartition(".")[0]}
    return functions | handlers | models


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("functions", *LAYER_PACKAGES, cache_dir=None)


def test_every_layer_module_is_imported_by_a_function_or_a_handler(graph: grimp.ImportGraph) -> None:
    roots = product_roots(graph)
    assert any(root.startswith("functions.") for root in roots), (
        "no function found: is grimp reading functions/?"
    )
    assert unreachable(graph, roots, "idn_triggers") == set()


def test_a_module_no_function_imports_is_reported() -> None:
    # Given a layer in which one module is imported by nothing the functions reach
    graph = grimp.ImportGraph()
    for module in (
        "functions.receiver.app",
        "lib",
        "lib.used",
        "lib.helper",
        "lib.orphan",
        "lib.orphan_helper",
    ):
        graph.add_module(module)
    graph.add_import(importer="functions.receiver.app", imported="lib.used")
    graph.add_import(importer="lib.used", imported="lib.helper")
    graph.add_import(importer="lib.orphan", imported="lib.orphan_helper")
    # Then exactly the orphan and what only it imports are reported
    assert unreachable(graph, ["functions.receiver.app"], "lib") == {"lib.orphan", "lib.orphan_helper"}
