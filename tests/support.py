"""Helpers shared by the tests: paths, fake Lambda context, loading function modules by path."""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from idn_local.functions import load_function_module
from idn_triggers import catalogue

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
_counter = itertools.count()


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-00000000abcd"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 8000


def load_function(role: str) -> ModuleType:
    """Import functions/<role>/app.py afresh (cold start) under a unique module name.

    Handler modules stay imported across tests; the loader clears their cached settings so they
    read the test's environment, as a new Lambda container would.
    """
    return load_function_module(ROOT / "functions" / role / "app.py", f"fn_{role}_{next(_counter)}")


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def trigger_document(trigger_id: str) -> dict[str, Any]:
    """A copy of the catalogue's document, so a test may change it freely."""
    return copy.deepcopy(catalogue.trigger_document(trigger_id))


def condition(template: dict[str, Any], value: Any, values: dict[str, str]) -> Any:
    """Evaluate a template condition (Equals, Not, And, Or over parameter Refs) for these parameters."""
    if not isinstance(value, dict):
        return value
    ((key, argument),) = value.items()

    def evaluate(item: Any) -> Any:
        return condition(template, item, values)

    operators: dict[str, Any] = {
        "Ref": lambda a: values[a],
        "Condition": lambda a: evaluate(template["Conditions"][a]),
        "Fn::Equals": lambda a: str(evaluate(a[0])) == str(evaluate(a[1])),
        "Fn::Not": lambda a: not evaluate(a[0]),
        "Fn::And": lambda a: all(evaluate(x) for x in a),
        "Fn::Or": lambda a: any(evaluate(x) for x in a),
    }
    return operators[key](argument)
