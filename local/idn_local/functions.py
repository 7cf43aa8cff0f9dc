"""Lambda functions from the template, run in this process with their template environment.

Every function's module is loaded from its CodeUri by path (each is an `app.py`) under its own name.
Environment variables are process-wide, so all functions' variables are merged into one
environment; two functions asking for different values of one variable is refused at start.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from idn_local.iam import Identity, running_as
from idn_local.logs import CURRENT_FUNCTION, route_function_logs
from idn_local.reload import HandlerReloader
from idn_local.stack import FunctionSpec, Stack, TemplateError


@dataclass
class LambdaContext:
    """The parts of the Lambda context object Powertools and handlers read."""

    function_name: str
    timeout_seconds: int
    deadline: float
    aws_request_id: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""

    def get_remaining_time_in_millis(self) -> int:
        import time

        return max(0, int((self.deadline - time.monotonic()) * 1000))


class LocalFunction:
    """One loaded function: call it like Lambda would."""

    def __init__(
        self,
        spec: FunctionSpec,
        handler: Callable[[dict[str, Any], Any], Any],
        service: str | None = None,
        reloader: HandlerReloader | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.service = service or spec.name  # POWERTOOLS_SERVICE_NAME from its template environment
        self._handler = handler
        self._cold = True
        self.identity: Identity | None = None  # its role's credentials when IAM is enforced (idn_local.iam)
        self.reloader = reloader  # edited handler modules take effect on the next invocation

    def invoke(self, event: dict[str, Any]) -> Any:
        import time

        context = LambdaContext(
            function_name=self.name,
            timeout_seconds=self.spec.timeout,
            deadline=time.monotonic() + self.spec.timeout,
            aws_request_id=str(uuid.uuid4()),
            invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{self.name}",
        )
        # Its log lines carry its own name, request id and service, whatever other functions that
        # share this process are doing (see idn_local.logs).
        cold, self._cold = self._cold, False
        token = CURRENT_FUNCTION.set(
            {
                "function_name": self.name,
                "function_arn": context.invoked_function_arn,
                "function_request_id": context.aws_request_id,
                "function_memory_size": context.memory_limit_in_mb,
                "cold_start": cold,
                "service": self.service,
            }
        )
        try:
            if self.reloader is not None:
                self.reloader.check()
            route_function_logs()  # loggers a handler module built on first use
            with running_as(self.identity):
                return self._handler(event, context)
        finally:
            CURRENT_FUNCTION.reset(token)


def merged_environment(stack: Stack, specs: list[FunctionSpec]) -> dict[str, str]:
    """All functions' resolved variables; a conflict would make one function misbehave, so it fails."""
    merged: dict[str, str] = {}
    owners: dict[str, str] = {}
    for spec in specs:
        for key, value in stack.resolve(spec.environment).items():
            text = "" if value is None else str(value)
            if key in merged and merged[key] != text:
                raise TemplateError(
                    f"{spec.name} and {owners[key]} set {key} to different values; local mode runs them in one process"
                )
            merged[key], owners[key] = text, spec.name
    return merged


def forget_handler_settings() -> None:
    """Clear the settings handler modules cache (`@cache def settings()`), as a new container would.

    Handler modules are imported once per process and shared by every function loaded in it; a
    function loaded again (another local stack, another test) must read its own environment."""
    packages = ("trigger_handlers.", f"{os.environ.get('HANDLERS_PACKAGE') or 'trigger_handlers'}.")
    for module in [m for name, m in sys.modules.items() if name.startswith(packages)]:
        cached_settings = getattr(module, "settings", None)
        if cached_settings is not None and hasattr(cached_settings, "cache_clear"):
            cached_settings.cache_clear()


def load_function_module(path: Path, module_name: str) -> ModuleType:
    """Import a function's handler file under a name of its own, as a fresh Lambda container does.

    Every function is an `app.py`, so each needs a unique module name; local mode and the tests
    both load functions through here."""
    forget_handler_settings()
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise TemplateError(f"cannot load {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    module_spec.loader.exec_module(module)
    return module


def load_functions(
    stack: Stack, environ: Mapping[str, str], identities: Mapping[str, Identity] | None = None
) -> dict[str, LocalFunction]:
    """Set the environment, then cold-start every function (import its module) once, with its
    role's credentials when `identities` has them (a cold start calls AWS too)."""
    specs = stack.functions()
    os.environ.update(environ)
    os.environ.update(merged_environment(stack, specs))
    reloader = HandlerReloader(os.environ.get("HANDLERS_PACKAGE") or "trigger_handlers")
    functions = {}
    for spec in specs:
        module_name, _, attribute = spec.handler.rpartition(".")
        path = spec.code_uri / f"{module_name.replace('.', '/')}.py"
        identity = (identities or {}).get(spec.name)
        with running_as(identity):
            module = load_function_module(path, f"local_fn_{spec.name}")
        service = stack.resolve(spec.environment).get("POWERTOOLS_SERVICE_NAME")
        functions[spec.name] = LocalFunction(
            spec, getattr(module, attribute), str(service or spec.name), reloader=reloader
        )
        functions[spec.name].identity = identity
    route_function_logs()  # Powertools writes to stdout; local mode keeps stdout for the user
    return functions
