"""The handler-template API: one typed function per trigger, in the module named after it.

A user writes, in `trigger_handlers/access_request_pre_approval.py`::

    @trigger_handler("idn:access-request-pre-approval")
    def decide(event: AccessRequestPreApproval) -> PreApprovalDecision: ...

The input and output models come from the function's annotations. Handlers never see HTTP, SQS or
callbacks, so the same function serves SYNC, ASYNC and DYNAMIC deliveries. A trigger's module is
found by a rule (`handler_module`) rather than a list, and imported only when the trigger is first
invoked, so a large catalogue does not slow cold start and a new handler needs no registration.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ValidationError

from idn_triggers.envelope import DeliveryKind, ResponseMode
from idn_triggers.errors import InvalidHandlerOutput, InvalidPayload

logger = Logger()

F = TypeVar("F", bound=Callable[..., Any])


class Deferred:
    """A handler's explicit "not now": answer SailPoint later, from the worker.

    Only a DYNAMIC delivery can be deferred (`context.can_defer`): the receiver then queues the
    invocation and answers 202, and the worker calls the handler again with `can_defer` False.
    """

    _instance: Deferred | None = None

    def __new__(cls) -> Deferred:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DEFER"


DEFER = Deferred()


@functools.cache
def field_names(model: type[BaseModel]) -> frozenset[str]:
    """Every field name and alias of `model` and of the models its fields hold, at any depth: what
    a validation error's location may name without naming data (a mapping's keys are data)."""
    names: set[str] = set()
    seen: set[type[BaseModel]] = set()
    pending: list[Any] = [model]
    while pending:
        item = pending.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item in seen:
                continue
            seen.add(item)
            for name, info in item.model_fields.items():
                names.update(n for n in (name, info.alias, info.validation_alias) if isinstance(n, str))
                pending.append(info.annotation)
        else:
            pending.extend(typing.get_args(item))
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """What a handler may want to know about the invocation besides its input."""

    trigger_id: str
    response_mode: ResponseMode
    invocation_id: str | None = None
    can_defer: bool = False
    delivery: DeliveryKind = DeliveryKind.LIVE

    @property
    def recovered(self) -> bool:
        """Read back from the tenant's invocation history: SailPoint's own delivery had failed."""
        return self.delivery is DeliveryKind.RECOVERED

    @property
    def replay(self) -> bool:
        """Played again on purpose: the handler already saw this event once."""
        return self.delivery is DeliveryKind.REPLAY


@dataclass(frozen=True, slots=True)
class TriggerHandler:
    """A registered handler with the models taken from its signature."""

    trigger_id: str
    function: Callable[..., Any]
    input_model: type[BaseModel]
    output_model: type[BaseModel] | None
    output_optional: bool
    wants_context: bool

    def __call__(self, event: BaseModel, context: HandlerContext) -> Any:
        return self.function(event, context) if self.wants_context else self.function(event)

    def parse_input(self, payload: dict[str, Any]) -> BaseModel:
        """The typed input; raises InvalidPayload naming fields (never values)."""
        try:
            return self.input_model.model_validate(payload)
        except ValidationError as error:
            raise InvalidPayload.from_pydantic(
                f"payload does not match the {self.trigger_id} input model",
                error.errors(),
                field_names=field_names(self.input_model),
            ) from None

    def validated_output(self, result: Any) -> Any:
        """Re-validate the handler's answer against its output model before it can leave, as JSON data."""
        if self.output_model is None:
            return None
        if result is None:
            if self.output_optional:  # a model may document what "nothing" is sent as
                none_answer = getattr(self.output_model, "NONE_ANSWER", None)
                return dict(none_answer) if none_answer is not None else None
            logger.error("trigger handler returned no answer", extra={"trigger_id": self.trigger_id})
            raise InvalidHandlerOutput()
        # warnings=False: pydantic's serializer warnings quote the offending values (PII) into logs.
        data = (
            result.model_dump(mode="json", by_alias=True, warnings=False)
            if isinstance(result, BaseModel)
            else result
        )
        try:
            return self.output_model.model_validate(data).model_dump(mode="json", by_alias=True)
        except ValidationError as error:
            fields = [".".join(str(p) for p in e["loc"]) or "(answer)" for e in error.errors()]
            logger.error(
                "trigger handler answer fails its model",
                extra={"trigger_id": self.trigger_id, "fields": fields},
            )
            raise InvalidHandlerOutput() from None


# Handlers by the module that declares them, then by trigger id: a registry serves a trigger only from
# the module the rule names, so a handler declared elsewhere (a misnamed module) is never served.
_declared: dict[str, dict[str, TriggerHandler]] = {}

# The ids the rule covers: `idn:` and lowercase words joined by `-`, so that every module name it gives
# is distinct and a plain identifier (an id from a request path can never name another module).
_RULE_ID = re.compile(r"idn:([a-z0-9]+(?:-[a-z0-9]+)*)")


def _output_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(model, None allowed) from a return annotation such as `Decision`, `Approver | None` or
    `Decision | Deferred`."""
    if annotation is None or annotation is type(None):
        return None, True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg not in (type(None), Deferred)]
        optional = type(None) in typing.get_args(annotation)
        if len(members) == 1 and isinstance(members[0], type) and issubclass(members[0], BaseModel):
            return members[0], optional
    raise TypeError(
        f"handler return annotation must be a pydantic model, optional model or None: {annotation!r}"
    )


def trigger_handler(trigger_id: str) -> Callable[[F], F]:
    """Register the decorated function as the handler of `trigger_id`.

    Use it in the trigger's own module (`handler_module`): the registry looks for the handler there,
    so this decorator is the one place a handler names its trigger.
    """

    def register(function: F) -> F:
        hints = typing.get_type_hints(function)
        parameters = list(inspect.signature(function).parameters)
        if not parameters or parameters[0] not in hints:
            raise TypeError(
                f"handler for {trigger_id} must annotate its first parameter with a pydantic model"
            )
        input_model = hints[parameters[0]]
        if not (isinstance(input_model, type) and issubclass(input_model, BaseModel)):
            raise TypeError(f"handler for {trigger_id}: first parameter must be a pydantic model")
        output_model, optional = _output_model(hints.get("return"))
        declared = _declared.setdefault(function.__module__, {})
        if trigger_id in declared and declared[trigger_id].function is not function:
            raise ValueError(f"two handlers registered for {trigger_id} in {function.__module__}")
        declared[trigger_id] = TriggerHandler(
            trigger_id=trigger_id,
            function=function,
            input_model=input_model,
            output_model=output_model,
            output_optional=optional,
            wants_context=len(parameters) > 1,
        )
        return function

    return register


def handler_module(trigger_id: str, package: str, exceptions: Mapping[str, str] | None = None) -> str | None:
    """The module that handles `trigger_id`: its entry in `exceptions`, else by the rule
    `idn:identity-created` -> `<package>.identity_created` (drop `idn:`, `-` -> `_`).

    None for an id the rule does not cover (not `idn:` and lowercase words joined by `-`) and that
    has no exception, e.g. an EXTRA_TRIGGERS id with another prefix.
    """
    if exceptions and trigger_id in exceptions:
        return exceptions[trigger_id]
    match = _RULE_ID.fullmatch(trigger_id)
    return f"{package}.{match.group(1).replace('-', '_')}" if match else None


def declared_handlers(module: str) -> dict[str, TriggerHandler]:
    """The handlers an imported module declared, by trigger id (empty if none, or not imported)."""
    return dict(_declared.get(module, {}))


def forget_declarations(module: str) -> None:
    """Forget the handlers `module` declared, so that importing it again declares them anew
    (local mode reloads an edited handler module; Lambda never does)."""
    _declared.pop(module, None)


def _module_exists(module: str) -> bool:
    """Whether `module` can be imported, found without importing it (its parent packages are)."""
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def package_registry(package: str) -> HandlerRegistry:
    """The registry of a handlers package, with the exceptions its `__init__` declares
    (`HANDLER_EXCEPTIONS`, optional): what the receiver and the worker serve from."""
    exceptions = getattr(importlib.import_module(package), "HANDLER_EXCEPTIONS", None)
    return HandlerRegistry(package, exceptions if isinstance(exceptions, Mapping) else None)


class HandlerRegistry:
    """Finds each trigger's handler module in `package` by the rule (`handler_module`), or in
    `exceptions` (trigger id -> module), and imports it only when the trigger is first looked up."""

    def __init__(self, package: str, exceptions: Mapping[str, str] | None = None) -> None:
        self.package = package
        self._exceptions = dict(exceptions or {})

    def module_for(self, trigger_id: str) -> str | None:
        return handler_module(trigger_id, self.package, self._exceptions)

    def has_handler(self, trigger_id: str) -> bool:
        """Whether the trigger's module exists; asked without importing it, to keep cold start small."""
        module = self.module_for(trigger_id)
        return module is not None and _module_exists(module)

    def get(self, trigger_id: str) -> TriggerHandler | None:
        """The trigger's handler (its module imported on first use), or None if it has no module.

        Raises LookupError if the module does not declare the handler of this very trigger.
        """
        module = self.module_for(trigger_id)
        if module is None or not _module_exists(module):
            return None
        importlib.import_module(module)
        declared = _declared.get(module, {})
        handler = declared.get(trigger_id)
        if handler is None:
            found = ", ".join(sorted(declared)) if declared else "none"
            raise LookupError(
                f"module {module} must declare the handler of {trigger_id} with "
                f'@trigger_handler("{trigger_id}"); the handlers it declares: {found}'
            )
        return handler
