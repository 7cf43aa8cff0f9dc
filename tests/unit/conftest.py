"""Unit-test fixtures: a throw-away package of handler modules, written as a user would."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class HandlerPackage:
    """A fresh, importable package (unique name per test): `add` writes one module into it."""

    name: str
    path: Path

    def add(self, module: str, source: str) -> str:
        """Write `<module>.py` with `source` (dedented); returns its dotted name."""
        (self.path / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        importlib.invalidate_caches()  # a directory listed in the same clock tick would not show it
        return f"{self.name}.{module}"


@pytest.fixture
def handler_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HandlerPackage]:
    name = f"handlers_{uuid.uuid4().hex[:12]}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))  # also clears the import system's directory caches
    yield HandlerPackage(name, tmp_path / name)
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[module]
