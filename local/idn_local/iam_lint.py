"""parliament over every function role SAM would create, with the template's options off and on.

parliament (offline) knows AWS's actions and the resource types each one takes: it reports unknown
actions and resources that do not fit the action (e.g. `s3:PutObject` on a table). The roles are
those local mode enforces (idn_local.iam_roles), resolved against placeholder ARNs of the right
shape for each resource type, since no stack exists here.

    python -m idn_local.iam_lint      # `make validate`; exit 1 on any finding
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from idn_local.iam_roles import FunctionRole, function_roles
from idn_local.stack import ACCOUNT_ID, REGION, Stack

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {
    "SailPointClientId": "id",
    "SailPointClientSecret": "secret",
    "TenantApiUrl": "https://acme.api.identitynow.com",
}
# The options that add grants (a customer key) or roles (the API Gateway logs role).
OPTIONS = {
    "defaults": {},
    "every-option-on": {
        "SnapStart": "true",
        "KmsKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/11111111-2222-3333-4444-555555555555",
        "CreateApiGatewayLogsRole": "true",
    },
}


def placeholder_stack(template: Path, overrides: dict[str, str]) -> Stack:
    """The template's stack with an ARN of the right shape for every resource (nothing created)."""
    stack = Stack(template, {**REQUIRED, **overrides}, stack_name="lint")
    prefix = f"{REGION}:{ACCOUNT_ID}"
    for name, resource in stack.resources.items():
        kind = resource["Type"]
        if kind == "AWS::SecretsManager::Secret":
            stack.physical_ids[name] = f"arn:aws:secretsmanager:{prefix}:secret:lint-{name}-AbCdEf"
        elif kind == "AWS::SQS::Queue":
            stack.physical_ids[name] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/lint-{name}"
            stack.attributes[(name, "Arn")] = f"arn:aws:sqs:{prefix}:lint-{name}"
            stack.attributes[(name, "QueueName")] = f"lint-{name}"
        elif kind == "AWS::DynamoDB::Table":
            stack.physical_ids[name] = f"lint-{name}"
            stack.attributes[(name, "Arn")] = f"arn:aws:dynamodb:{prefix}:table/lint-{name}"
        elif kind == "AWS::S3::Bucket":
            stack.physical_ids[name] = f"lint-{name.lower()}"
            stack.attributes[(name, "Arn")] = f"arn:aws:s3:::lint-{name.lower()}"
        else:
            stack.physical_ids[name] = f"lint-{name}"
            stack.attributes[(name, "Arn")] = f"arn:aws:lambda:{prefix}:function:lint-{name}"
    return stack


def findings(role: FunctionRole) -> list[str]:
    """parliament's findings for the role's own (inline) policies, one line each. The AWS managed
    policies SAM attaches grant `*` resources by AWS's design (logs, X-Ray, the SQS poller): each is
    listed with its reason in tests/integration/test_template.py instead."""
    with warnings.catch_warnings():  # parliament imports pkg_resources, deprecated by setuptools
        warnings.simplefilter("ignore")
        from parliament import analyze_policy_string

    lines = []
    for name, document in role.policies.items():
        policy = analyze_policy_string(json.dumps({"Version": "2012-10-17", **document}))
        lines += [f"{role.function} {name}: {f.issue} {f.detail}" for f in policy.findings]
    return lines


def lint(template: Path = ROOT / "template.yaml") -> dict[str, list[str]]:
    """Per option set, every finding over every function role."""
    return {
        option: [
            line
            for role in function_roles(placeholder_stack(template, overrides)).values()
            for line in findings(role)
        ]
        for option, overrides in OPTIONS.items()
    }


def main() -> int:
    results = lint()
    for option, lines in results.items():
        print(f"parliament, {option}: {len(lines)} finding(s)")
        for line in lines:
            print(f"  {line}")
    return 1 if any(results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
