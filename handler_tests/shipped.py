"""The templates as this project ships them: their example tests run only while a template is unchanged.

The example tests in this folder describe the shipped templates' decisions. Once you rewrite a
template, its example tests skip (saying so) instead of failing: write your own tests for your
handler beside them, and delete the example file when you no longer want it. Template hashes are
refreshed with `python -m handler_tests.shipped` (the project does this when it changes a template).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

import trigger_handlers

HASHES = Path(__file__).with_name("shipped_templates.json")


def template_hash(module: str) -> str:
    path = Path(trigger_handlers.__path__[0]) / f"{module}.py"
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def is_shipped(module: str) -> bool:
    """Whether `trigger_handlers/<module>.py` is still the template as shipped."""
    path = Path(trigger_handlers.__path__[0]) / f"{module}.py"
    shipped = json.loads(HASHES.read_text(encoding="utf-8")).get(module)
    return path.is_file() and shipped == template_hash(module)


def require_shipped(module: str) -> None:
    """Skip the calling test when `trigger_handlers/<module>.py` is no longer the shipped template."""
    if not is_shipped(module):
        pytest.skip(
            f"trigger_handlers/{module}.py is yours now: this example test is for the shipped template"
        )


def main() -> None:
    modules = sorted(p.stem for p in Path(trigger_handlers.__path__[0]).glob("[!_]*.py"))
    HASHES.write_text(json.dumps({m: template_hash(m) for m in modules}, indent=1) + "\n", encoding="utf-8")
    sys.stdout.write(f"{len(modules)} template hashes written to {HASHES}\n")


if __name__ == "__main__":
    main()
