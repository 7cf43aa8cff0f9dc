"""The handler-template API: models from annotations, modules found by rule, lazy import per trigger."""

from __future__ import annotations

import subprocess
import sys

import pytest

from idn_triggers.envelope import ResponseMode
from idn_triggers.handlers import HandlerContext, HandlerRegistry, handler_module, trigger_handler
from idn_triggers.models.access_request import AccessRequestPreApproval, DynamicApprover, PreApprovalDecision
from tests.unit.conftest import HandlerPackage

NEW_MODULE = """
from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.generic import GenericTriggerEvent

received = []


@trigger_handler("idn:brand-new-thing")
def on_new_thing(event: GenericTriggerEvent, context: HandlerContext) -> None:
    received.append((context.trigger_id, event.payload))
"""


def registry_of(**exceptions: str) -> HandlerRegistry:
    """A registry of the real handlers package, plus this module's handlers as exceptions."""
    return HandlerRegistry("trigger_handlers", exceptions)


def test_models_come_from_annotations() -> None:
    @trigger_handler("test:annotated")
    def handle(event: AccessRequestPreApproval, context: HandlerContext) -> DynamicApprover | None:
        return None

    handler = HandlerRegistry("trigger_handlers", {"test:annotated": __name__}).get("test:annotated")
    assert handler is not None
    assert handler.input_model is AccessRequestPreApproval
    assert handler.output_model is DynamicApprover and handler.output_optional and handler.wants_context


def test_fire_and_forget_handler_returns_none() -> None:
    @trigger_handler("test:none")
    def handle(event: AccessRequestPreApproval) -> None:
        return None

    handler = HandlerRegistry("trigger_handlers", {"test:none": __name__}).get("test:none")
    assert handler is not None and handler.output_model is None


def test_context_is_passed_only_when_asked_for() -> None:
    seen: list[HandlerContext] = []

    @trigger_handler("test:context")
    def handle(event: AccessRequestPreApproval, context: HandlerContext) -> None:
        seen.append(context)

    handler = HandlerRegistry("trigger_handlers", {"test:context": __name__}).get("test:context")
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


@pytest.mark.parametrize(
    ("trigger_id", "module"),
    [
        ("idn:identity-created", "pkg.identity_created"),
        ("idn:ciem-auto-include-scope-setting-changed", "pkg.ciem_auto_include_scope_setting_changed"),
        ("idn:va2-status", "pkg.va2_status"),
        # ids the rule does not cover: another prefix, and anything but lowercase words joined by "-"
        ("acme:thing", None),
        ("identity-created", None),
        ("idn:", None),
        ("idn:Identity-Created", None),
        ("idn:identity_created", None),
        ("idn:identity--created", None),
        ("idn:-identity", None),
        ("idn:identity.created", None),
        ("idn:../etc/passwd", None),
        ("idn:identity-created\n", None),
    ],
)
def test_the_rule_names_the_module_after_the_trigger(trigger_id: str, module: str | None) -> None:
    assert handler_module(trigger_id, "pkg") == module


def test_an_exception_names_the_module_of_an_id_the_rule_does_not_cover() -> None:
    exceptions = {"acme:thing": "pkg.acme", "idn:identity-created": "other.joiners"}
    assert handler_module("acme:thing", "pkg", exceptions) == "pkg.acme"
    assert handler_module("idn:identity-created", "pkg", exceptions) == "other.joiners"
    assert handler_module("idn:identity-deleted", "pkg", exceptions) == "pkg.identity_deleted"


def test_trigger_without_a_module_has_no_handler() -> None:
    registry = registry_of()
    for trigger_id in ("idn:no-such-trigger", "acme:thing", "../../etc/passwd", ""):
        assert not registry.has_handler(trigger_id)
        assert registry.get(trigger_id) is None
    assert not HandlerRegistry("no_such_package").has_handler("idn:identity-created")
    assert HandlerRegistry("no_such_package").get("idn:identity-created") is None


def test_a_new_module_named_by_the_rule_is_served_without_registration(
    handler_package: HandlerPackage,
) -> None:
    # Given a user's new module, named after its trigger as the docs say, and nothing else
    module = handler_package.add("brand_new_thing", NEW_MODULE)
    registry = HandlerRegistry(handler_package.name)
    # Then the registry knows it has a handler without importing it
    assert registry.has_handler("idn:brand-new-thing")
    assert module not in sys.modules
    # And serves it on first use, with the trigger id in the context
    handler = registry.get("idn:brand-new-thing")
    assert handler is not None and module in sys.modules
    event = handler.parse_input({"any": ["thing"]})
    handler(event, HandlerContext("idn:brand-new-thing", ResponseMode.SYNC))
    assert sys.modules[module].received == [("idn:brand-new-thing", {"any": ["thing"]})]


def test_handler_modules_are_imported_lazily() -> None:
    # In a fresh interpreter: building the registry and asking which triggers have a handler imports
    # no handler and no model; the first lookup imports one handler.
    script = """
import sys
from idn_triggers.handlers import HandlerRegistry
from trigger_handlers import HANDLER_EXCEPTIONS
PRE, DYN = "idn:access-request-pre-approval", "idn:access-request-dynamic-approver"
registry = HandlerRegistry("trigger_handlers", HANDLER_EXCEPTIONS)
assert registry.has_handler(PRE) and registry.has_handler(DYN)
loaded = lambda: sorted(m for m in sys.modules if m.startswith(("trigger_handlers.", "idn_triggers.models")))
assert loaded() == [], f"imported eagerly: {loaded()}"
handler = registry.get(PRE)
assert "trigger_handlers.access_request_pre_approval" in sys.modules
assert "trigger_handlers.access_request_dynamic_approver" not in sys.modules
print(handler.output_model.__name__)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == PreApprovalDecision.__name__


def test_module_without_the_declared_handler_is_an_error() -> None:
    with pytest.raises(LookupError, match=r"module json must declare the handler of test:missing.*: none"):
        registry_of(**{"test:missing": "json"}).get("test:missing")


def test_module_declaring_another_trigger_is_an_error_naming_both(handler_package: HandlerPackage) -> None:
    # A copied template whose decorator was not updated: identity_created.py handling identity-deleted
    handler_package.add("identity_created", NEW_MODULE.replace("idn:brand-new-thing", "idn:identity-deleted"))
    registry = HandlerRegistry(handler_package.name)
    assert registry.has_handler("idn:identity-created")
    with pytest.raises(LookupError) as raised:
        registry.get("idn:identity-created")
    assert str(raised.value) == (
        f"module {handler_package.name}.identity_created must declare the handler of "
        'idn:identity-created with @trigger_handler("idn:identity-created"); '
        "the handlers it declares: idn:identity-deleted"
    )
    # and the handler it does declare is not served from the wrong module either
    assert registry.get("idn:identity-deleted") is None


def test_two_handlers_for_one_trigger_in_one_module_are_refused() -> None:
    @trigger_handler("test:twice")
    def first(event: AccessRequestPreApproval) -> None:
        return None

    def second(event: AccessRequestPreApproval) -> None:
        return None

    with pytest.raises(ValueError, match=f"two handlers registered for test:twice in {__name__}"):
        trigger_handler("test:twice")(second)
