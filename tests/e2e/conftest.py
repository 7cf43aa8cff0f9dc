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


@pytest.fixture(scope="module", autouse=True)
def no_iam_denials(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every e2e module runs its functions with their template roles (local mode's default): a
    function refused anything its module asked of it fails the module, naming the grant to add.
    A module that removes grants on purpose sets EXPECTS_IAM_DENIALS."""
    before = len(iam.denials())
    yield
    if not getattr(request.module, "EXPECTS_IAM_DENIALS", False):
        denied = iam.denials()[before:]
        assert not denied, f"IAM denials (add the grant to template.yaml): {denied}"
