"""Local mode's IAM switch: on by default, `--no-iam` turns it off, and the banner says which."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from types import SimpleNamespace

import pytest

from idn_local.cli import build_parser, options_from, print_banner
from idn_local.runner import InboundAuth


def banner(enforce_iam: bool) -> str:
    runner = SimpleNamespace(
        options=SimpleNamespace(auth=InboundAuth.parse("none"), client_secret=None, enforce_iam=enforce_iam),
        stack=None,
        api_url="http://127.0.0.1:3000",
        tenant_url="http://127.0.0.1:4000",
        simulator=object(),
        client_id="local-client",
        aws_endpoint="http://127.0.0.1:5000",
    )
    out = io.StringIO()
    with redirect_stdout(out):
        print_banner(runner)  # type: ignore[arg-type]
    return out.getvalue()


def test_iam_is_enforced_by_default() -> None:
    assert options_from(build_parser().parse_args([])).enforce_iam


@pytest.mark.parametrize("argv", [["--no-iam"], ["--no-demo", "--no-iam", "-v"], ["--no-iam", "--port", "0"]])
def test_no_iam_turns_it_off_in_any_flag_order(argv: list[str]) -> None:
    assert not options_from(build_parser().parse_args(argv)).enforce_iam


def test_the_banner_says_iam_is_enforced() -> None:
    assert "IAM:         enforced" in banner(enforce_iam=True)


def test_the_banner_shouts_when_iam_is_off() -> None:
    line = next(line for line in banner(enforce_iam=False).splitlines() if line.startswith("IAM:"))

    assert "NOT ENFORCED" in line and "!!!" in line
