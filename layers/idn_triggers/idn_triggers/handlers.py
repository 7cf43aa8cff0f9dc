"""The handler-template API: one typed function per trigger, registered by trigger id.

A user writes::

    @trigger_handler("idn:access-request-pre-approval")
    def decide(event: AccessRequestPreApproval) -> PreApprovalDecision: ...

The input and output models come from the function's annotations. Handlers never see HTTP, SQS or
callbacks, so the same function serves SYNC, ASYNC and DYNAMIC deliveries. Handler modules are
imported lazily, per trigger, so a large catalogue does not slow cold start.
"""

from __future__ import annotations

import importlib
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ValidationError

from idn_triggers.envelope import ResponseMode
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


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """What a handler may want to know about the invocation besides its input."""

    trigger_id: str
    response_mode: ResponseMode
    invocation_id: str | None = None
    can_defer: bool = False


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
                f"payload does not match the {self.trigger_id} input model", error.errors()
            ) from None

    def validated_output(self, result: Any) -> Any:
        """Re-validate the handler's answer against its output model before it can leave, as JSON data."""
        if self.output_model is None:
            return None
        if result is None:
            if self.output_optional:
                return None
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


_declared: dict[str, TriggerHandler] = {}


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
    """Register the decorated function as the handler of `trigger_id`."""

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
        if trigger_id in _declared and _declared[trigger_id].function is not function:
            raise ValueError(f"two handlers registered for {trigger_id}")
        _declared[trigger_id] = TriggerHandler(
            trigger_id=trigger_id,
            function=function,
            input_model=input_model,
            output_model=output_model,
            output_optional=optional,
            wants_context=len(parameters) > 1,
        )
        return function

    return register


class HandlerRegistry:
    """Maps trigger ids to handlers, importing each handler's module on first use."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        self._modules = dict(modules)

    def trigger_ids(self) -> frozenset[str]:
        return frozenset(self._modules)

    def get(self, trigger_id: str) -> TriggerHandler | None:
        module = self._modules.get(trigger_id)
        if module is None:
            return None
        if trigger_id not in _declared:
            importlib.import_module(module)
        handler = _declared.get(trigger_id)
        if handler is None:
            raise LookupError(f"module {module} registers no handler for {trigger_id}")
        return handler
