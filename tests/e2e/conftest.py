"""One local stack (runner + moto + simulator) for the end-to-end tests, on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from idn_local import iam
from idn_local.runner import InboundAuth, LocalOptions, LocalRunner

E2E_BEARER = "e2e-inbound-token"


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRunner]:
    runner = LocalRunner(
        LocalOptions(port=0, auth=InboundAuth.parse(f"bearer:{E2E_BEARER}"), token_lifetime=749)
    )
    with runner:
        yield runner


@pytest.fixture(autouse=True)
def no_iam_denials(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every e2e test runs its functions with their template roles (local mode's default): a
    function refused anything the test asked of it fails the test, naming the grant to add. A test
    that points a function at a resource its role does not cover, on purpose, is marked
    `iam_denials_expected`."""
    before = len(iam.denials())
    yield
    if request.node.get_closest_marker("iam_denials_expected") is None:
        denied = iam.denials()[before:]
        assert not denied, f"IAM denials (add the grant to template.yaml): {denied}"
