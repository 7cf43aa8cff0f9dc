"""The handler-template API: models from annotations, lazy import per trigger."""

from __future__ import annotations

import subprocess
import sys

import pytest

from idn_triggers.envelope import ResponseMode
from idn_triggers.handlers import HandlerContext, HandlerRegistry, trigger_handler
from idn_triggers.models.access_request import AccessRequestPreApproval, DynamicApprover, PreApprovalDecision


def test_models_come_from_annotations() -> None:
    @trigger_handler("test:annotated")
    def handle(event: AccessRequestPreApproval, context: HandlerContext) -> DynamicApprover | None:
        return None

    handler = HandlerRegistry({"test:annotated": __name__}).get("test:annotated")
    assert handler is not None
    assert handler.input_model is AccessRequestPreApproval
    assert handler.output_model is DynamicApprover and handler.output_optional and handler.wants_context


def test_fire_and_forget_handler_returns_none() -> None:
    @trigger_handler("test:none")
    def handle(event: AccessRequestPreApproval) -> None:
        return None

    handler = HandlerRegistry({"test:none": __name__}).get("test:none")
    assert handler is not None and handler.output_model is None


def test_context_is_passed_only_when_asked_for() -> None:
    seen: list[HandlerContext] = []

    @trigger_handler("test:context")
    def handle(event: AccessRequestPreApproval, context: HandlerContext) -> None:
        seen.append(context)

    handler = HandlerRegistry({"test:context": __name__}).get("test:context")
    assert handler is not None
    context = HandlerContext("test:context", ResponseMode.SYNC, "inv-1")
    handler(AccessRequestPreApproval.model_construct(), context)
    assert seen == [context]


@pytest.mark.parametrize(
    "bad",
    [lambda event: None, lambda event, context: None],
)
def test_unannotated_handlers_are_refused(bad: object) -> None:
    with pytest.raises(TypeError):
        trigger_handler("test:bad")(bad)  # type: ignore[type-var]


def test_return_annotation_must_be_a_model() -> None:
    def handle(event: AccessRequestPreApproval) -> dict:  # type: ignore[type-arg]
        return {}

    with pytest.raises(TypeError):
        trigger_handler("test:dict")(handle)


def test_unregistered_trigger_is_none() -> None:
    assert HandlerRegistry({}).get("idn:anything") is None


def test_handler_modules_are_imported_lazily() -> None:
    # In a fresh interpreter: building the registry imports no handler; the first lookup imports one.
    script = """
import sys
from idn_triggers.handlers import HandlerRegistry
from trigger_handlers import HANDLER_MODULES
registry = HandlerRegistry(HANDLER_MODULES)
assert not any(m in sys.modules for m in HANDLER_MODULES.values()), "imported eagerly"
handler = registry.get("idn:access-request-pre-approval")
assert HANDLER_MODULES["idn:access-request-pre-approval"] in sys.modules
assert HANDLER_MODULES["idn:access-request-dynamic-approver"] not in sys.modules
print(handler.output_model.__name__)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == PreApprovalDecision.__name__


def test_module_without_the_declared_handler_is_an_error() -> None:
    with pytest.raises(LookupError):
        HandlerRegistry({"test:missing": "json"}).get("test:missing")
