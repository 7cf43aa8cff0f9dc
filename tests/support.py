"""Helpers shared by the tests: paths, fake Lambda context, loading function modules by path."""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
CATALOGUE = ROOT / "layers" / "idn_triggers" / "idn_triggers" / "catalogue" / "data"
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

    Handler modules stay imported across tests, so their cached settings are cleared to read the
    test's environment, as a new Lambda container would.
    """
    for module_name in [name for name in sys.modules if name.startswith("trigger_handlers.")]:
        cached_settings = getattr(sys.modules.get(module_name), "settings", None)
        if cached_settings is not None and hasattr(cached_settings, "cache_clear"):
            cached_settings.cache_clear()
    path = ROOT / "functions" / role / "app.py"
    name = f"fn_{role}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def trigger_document(trigger_id: str) -> dict[str, Any]:
    return json.loads((CATALOGUE / (trigger_id.replace(":", "-") + ".json")).read_text(encoding="utf-8"))
