"""`pip install .` (no extras) gives working operator tools: every third-party package that the
tools can import, directly or through the library, is a declared runtime dependency.

The import graph is grimp's (import-linter's engine), so imports inside functions count too. The
fresh-venv check itself (`pip install .` then `idn-triggers filter check ...`) needs the package
index, so it is documented in docs/architecture.md rather than run here.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import packages_distributions

import grimp

from tests.support import ROOT

TOOL_PACKAGES = ("idn_tools", "jayway_filter")
PROJECT_PACKAGES = ("idn_tools", "jayway_filter", "idn_triggers")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(section: list[str]) -> set[str]:
    return {normalized(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]) for requirement in section}


def reachable_externals(graph: grimp.ImportGraph, roots: tuple[str, ...]) -> set[str]:
    """Top-level third-party packages imported along any chain from the roots' modules."""
    seen: set[str] = set()
    pending = [m for m in graph.modules if m.split(".")[0] in roots]
    externals: set[str] = set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            top = imported.split(".")[0]
            if top in PROJECT_PACKAGES:
                pending.append(imported)
            elif top not in sys.stdlib_module_names:
                externals.add(top)
    return externals


def test_every_package_the_tools_import_is_a_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = declared(project["dependencies"])
    graph = grimp.build_graph(*PROJECT_PACKAGES, include_external_packages=True, cache_dir=None)
    distributions = packages_distributions()
    missing = {
        name: distributions.get(name, [name])
        for name in reachable_externals(graph, TOOL_PACKAGES)
        if not {normalized(d) for d in distributions.get(name, [name])} & runtime
    }
    assert missing == {}, f"imported by the tools but not in [project].dependencies: {missing}"
