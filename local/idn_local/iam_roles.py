"""Each function's IAM role as `sam deploy` would create it, resolved against local physical ids.

The SAM translator (offline, no AWS call) turns template.yaml into CloudFormation, where every
function has an `AWS::IAM::Role` built from its `Policies`, its events (the SQS poller's managed
policy), `Tracing` and `EventInvokeConfig` destinations. Local mode creates exactly those roles in
moto; the template tests lint the same roles. One translation, one place.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from idn_local.stack import REGION, Stack

MANAGED_POLICY_PREFIX = "arn:aws:iam::aws:policy/"


@dataclass(frozen=True)
class FunctionRole:
    """One function's role: inline policy documents (by name) and AWS managed policy ARNs."""

    function: str
    role: str  # the role's logical id in the translated template
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    managed_policy_arns: tuple[str, ...] = ()

    def statements(self) -> list[dict[str, Any]]:
        """Every Allow/Deny statement of the inline and managed policies."""
        documents = [*self.policies.values(), *(managed_policy_document(a) for a in self.managed_policy_arns)]
        found: list[dict[str, Any]] = []
        for document in documents:
            statement = document["Statement"]
            found.extend(statement if isinstance(statement, list) else [statement])
        return found

    def granted_actions(self) -> set[str]:
        """The actions the role allows, as written (wildcards kept)."""
        actions: set[str] = set()
        for statement in self.statements():
            if statement.get("Effect") == "Allow":
                value = statement.get("Action", [])
                actions.update([value] if isinstance(value, str) else value)
        return actions


def translate(template_path: Path, parameters: dict[str, str]) -> dict[str, Any]:
    """The CloudFormation template SAM would deploy for these parameter values."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(template_path.read_text(encoding="utf-8"))
    for resource in template.get("Resources", {}).values():  # sam package would upload these
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/key"

    class NoManagedPolicyLookups:  # SAM asks IAM for managed policy names only when a template uses them
        def load(self) -> dict[str, str]:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)  # the translator wants a region, nothing else
    values = {**parameters, "AWS::Region": REGION}
    return dict(transform(copy.deepcopy(template), values, NoManagedPolicyLookups()))


def function_roles(stack: Stack, template: Path | None = None) -> dict[str, FunctionRole]:
    """Every function's role, resolved against `stack` (its parameters and physical ids).

    `template`: another version of the stack's template (a test's mutated copy). Resources whose
    Condition is false have no role, as in CloudFormation."""
    translated = translate(template or stack.template_path, stack.parameters)
    roles: dict[str, FunctionRole] = {}
    for name, resource in translated["Resources"].items():
        if resource.get("Type") != "AWS::Lambda::Function" or name not in stack.resources:
            continue
        role_ref = resource.get("Properties", {}).get("Role", {})
        role_id = role_ref.get("Fn::GetAtt", [None])[0] if isinstance(role_ref, dict) else None
        role = translated["Resources"].get(role_id or "")
        if role is None:
            continue
        properties = _without_none(stack.resolve(role["Properties"]))
        roles[name] = FunctionRole(
            function=name,
            role=str(role_id),
            policies={p["PolicyName"]: p["PolicyDocument"] for p in properties.get("Policies", [])},
            managed_policy_arns=tuple(properties.get("ManagedPolicyArns", [])),
        )
    return roles


def _without_none(value: Any) -> Any:
    """A resolved document minus `AWS::NoValue` (None), as CloudFormation drops them."""
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value if item is not None]
    return value


@cache
def _managed_policies() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return dict(json.loads(aws_managed_policies_data))


def managed_policy_document(arn: str) -> dict[str, Any]:
    """An AWS managed policy's document, from the copy moto ships (no network)."""
    name = arn.rsplit("/", 1)[-1]
    try:
        return dict(_managed_policies()[name]["Document"])
    except KeyError:
        raise KeyError(f"AWS managed policy {arn} is unknown to moto's copy") from None
