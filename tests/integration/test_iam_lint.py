"""parliament over every function role SAM would create (idn_local.iam_lint), options off and on."""

from __future__ import annotations

import pytest

from idn_local import iam_lint
from idn_local.iam_roles import FunctionRole


@pytest.fixture(scope="module")
def results() -> dict[str, list[str]]:
    return iam_lint.lint()


@pytest.mark.parametrize("option", list(iam_lint.OPTIONS))
def test_parliament_finds_nothing_in_any_function_role(results: dict[str, list[str]], option: str) -> None:
    assert results[option] == []


def test_every_option_on_lints_the_customer_key_grants_too() -> None:
    stack = iam_lint.placeholder_stack(iam_lint.ROOT / "template.yaml", iam_lint.OPTIONS["every-option-on"])
    roles = iam_lint.function_roles(stack)

    assert "kms:Decrypt" in roles["WorkerFunction"].granted_actions()


@pytest.mark.parametrize(
    ("statement", "issue"),
    [
        (
            {"Action": ["dynamodb:GetItm"], "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/t"},
            "UNKNOWN_ACTION",
        ),
        (
            {"Action": ["s3:PutObject"], "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/t"},
            "RESOURCE_MISMATCH",
        ),
    ],
)
def test_parliament_reports_a_misspelled_action_and_a_resource_that_does_not_fit(
    statement: dict[str, object], issue: str
) -> None:
    role = FunctionRole("F", "FRole", {"p": {"Statement": [{"Effect": "Allow", **statement}]}})

    assert any(issue in line for line in iam_lint.findings(role))
