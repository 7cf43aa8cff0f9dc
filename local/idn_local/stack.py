"""template.yaml as local mode sees it: parameters, conditions, resources and functions.

Local mode runs what `template.yaml` declares, so a new function, event or environment variable is
picked up without touching the runner. Intrinsic functions are resolved against local physical ids
(moto's ARNs and URLs) and parameter values (defaults, then overrides).
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::Partition": "aws",
    "AWS::NoValue": None,
}
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(Exception):
    """The template uses something local mode cannot run; the message names it."""


class UnresolvedReference(TemplateError):
    """A Ref or GetAtt to something that has no local value (yet)."""


@dataclass(frozen=True)
class FunctionEvent:
    name: str
    type: str
    properties: dict[str, Any]


@dataclass
class FunctionSpec:
    """One AWS::Serverless::Function with Globals merged in, intrinsics still unresolved."""

    name: str
    code_uri: Path
    handler: str
    environment: dict[str, Any]
    events: list[FunctionEvent]
    timeout: int
    properties: dict[str, Any] = field(repr=False)


def load_template(path: Path) -> dict[str, Any]:
    # cfn-lint (a dev dependency) parses CloudFormation's YAML tags.
    from cfnlint.decode import cfn_yaml

    return dict(cfn_yaml.load(str(path)))


class Stack:
    """A parsed template plus the values that make its intrinsics resolvable locally."""

    def __init__(
        self,
        template_path: Path,
        parameter_overrides: Mapping[str, str] | None = None,
        stack_name: str | None = None,
    ) -> None:
        self.root = template_path.parent
        self.template_path = template_path
        # Unique per run, like a CloudFormation stack: physical names derive from it, so two local
        # stacks in one process (moto keeps one state per process) never collide.
        self.stack_name = stack_name or f"sailpoint-triggers-local-{uuid.uuid4().hex[:8]}"
        self.template = load_template(template_path)
        self.resources: dict[str, Any] = self.template.get("Resources", {})
        declared = self.template.get("Parameters", {})
        unknown = set(parameter_overrides or {}) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        self.parameters = {name: str(spec["Default"]) for name, spec in declared.items() if "Default" in spec}
        self.parameters.update(parameter_overrides or {})
        missing = sorted(set(declared) - set(self.parameters))
        if missing:
            raise TemplateError(f"parameter(s) without a value: {', '.join(missing)}")
        for name, spec in declared.items():
            allowed = spec.get("AllowedValues")
            if allowed and self.parameters[name] not in [str(v) for v in allowed]:
                raise TemplateError(f"parameter {name}={self.parameters[name]!r} is not one of {allowed}")
        self.physical_ids: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}
        self.check_rules()
        # Resources whose Condition is false do not exist, as in CloudFormation (e.g. no API with
        # Transport=EVENTBRIDGE).
        self.resources = {
            name: resource
            for name, resource in self.resources.items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }

    # -- conditions and rules -------------------------------------------------------------
    def physical_name(self, logical_id: str) -> str:
        """A CloudFormation-style physical name for a resource that does not name itself."""
        return f"{self.stack_name}-{logical_id}"

    def condition(self, name: str) -> bool:
        spec = self.template.get("Conditions", {}).get(name)
        if spec is None:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.resolve(spec))

    def check_rules(self) -> None:
        """Template Rules, as CloudFormation checks them before a deploy."""
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.resolve(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions", []):
                if not self.resolve(assertion["Assert"]):
                    raise TemplateError(
                        f"rule {name}: {assertion.get('AssertDescription', 'assertion failed')}"
                    )

    # -- intrinsic functions --------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            handler = self._intrinsics().get(key)
            if handler is not None:
                return handler(argument)
        return {key: self.resolve(item) for key, item in value.items()}

    def _intrinsics(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self._ref,
            "Fn::Sub": self._sub,
            "Fn::GetAtt": self._get_att,
            "Fn::If": lambda a: self.resolve(a[1] if self.condition(a[0]) else a[2]),
            "Fn::Equals": lambda a: str(self.resolve(a[0])) == str(self.resolve(a[1])),
            "Fn::Not": lambda a: not self.resolve(a[0]),
            "Fn::And": lambda a: all(self.resolve(x) for x in a),
            "Fn::Or": lambda a: any(self.resolve(x) for x in a),
            "Condition": self.condition,
            "Fn::Join": lambda a: str(a[0]).join(str(self.resolve(x)) for x in self.resolve(a[1])),
            "Fn::Select": lambda a: self.resolve(a[1])[int(self.resolve(a[0]))],
            "Fn::Split": lambda a: str(self.resolve(a[1])).split(a[0]),
        }

    def _ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name == "AWS::StackName":
            return self.stack_name
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.physical_ids:
            return self.physical_ids[name]
        raise UnresolvedReference(f"Ref {name}: no local value (resource not provisioned locally?)")

    def _get_att(self, argument: Any) -> str:
        resource, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        try:
            return self.attributes[(resource, attribute)]
        except KeyError:
            raise UnresolvedReference(f"GetAtt {resource}.{attribute}: no local value") from None

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        local = {key: self.resolve(value) for key, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in local:
                return str(local[name])
            if "." in name:
                return self._get_att(name)
            return str(self._ref(name))

        return _SUB.sub(replace, text)

    # -- functions ------------------------------------------------------------------------
    def functions(self) -> list[FunctionSpec]:
        globals_ = self.template.get("Globals", {}).get("Function", {})
        specs = []
        for name, resource in self.resources.items():
            if resource.get("Type") != "AWS::Serverless::Function":
                continue
            properties = _merge(copy.deepcopy(globals_), resource.get("Properties", {}))
            events = [
                FunctionEvent(event_name, event["Type"], dict(event.get("Properties", {})))
                for event_name, event in properties.get("Events", {}).items()
            ]
            specs.append(
                FunctionSpec(
                    name=name,
                    code_uri=(self.root / properties["CodeUri"]).resolve(),
                    handler=properties["Handler"],
                    environment=dict(properties.get("Environment", {}).get("Variables", {})),
                    events=events,
                    timeout=int(properties.get("Timeout", 3)),
                    properties=properties,
                )
            )
        return specs


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals rule: maps merge (override wins), everything else is replaced."""
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping) and not _is_intrinsic(value):
            base[key] = _merge(dict(base[key]), value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _is_intrinsic(value: Mapping[str, Any]) -> bool:
    return len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref", "Condition"))
