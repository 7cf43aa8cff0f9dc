"""Conventions the shipped templates follow (your tests: keep, change or delete them).

The product's contract for any handler is in tests/contract; these are the templates' own habits.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import trigger_handlers
from handler_tests.shipped import is_shipped, require_shipped
from idn_triggers.catalogue import known_triggers
from idn_triggers.handlers import HandlerRegistry
from trigger_handlers import HANDLER_EXCEPTIONS

REGISTRY = HandlerRegistry("trigger_handlers", HANDLER_EXCEPTIONS)
HANDLED = sorted(t for t in known_triggers() if REGISTRY.has_handler(t))


def test_templates_import_models_of_one_module_only() -> None:
    # a template is a starting point: it does not drag in other triggers' models or handlers
    found = []
    for info in pkgutil.iter_modules(trigger_handlers.__path__, "trigger_handlers."):
        if info.name.rpartition(".")[2].startswith("_") or not is_shipped(info.name.rpartition(".")[2]):
            continue
        module = importlib.import_module(info.name)
        imported = {
            value.__module__
            for value in vars(module).values()
            if isinstance(value, type) and value.__module__.startswith("idn_triggers.models")
        }
        if len(imported) > 1:
            found.append((info.name, imported))
    assert found == []


@pytest.mark.parametrize("trigger_id", HANDLED)
def test_templates_are_typed_with_the_catalogue_models(trigger_id: str) -> None:
    require_shipped(trigger_id.removeprefix("idn:").replace("-", "_"))
    info = known_triggers()[trigger_id]
    found = REGISTRY.get(trigger_id)
    assert found is not None
    assert found.input_model is info.load_input_model()
    assert found.output_model is info.load_output_model()
