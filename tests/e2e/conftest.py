"""One local stack (runner + moto + simulator) for the end-to-end tests, on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner

E2E_BEARER = "e2e-inbound-token"


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRunner]:
    runner = LocalRunner(
        LocalOptions(port=0, auth=InboundAuth.parse(f"bearer:{E2E_BEARER}"), token_lifetime=749)
    )
    with runner:
        yield runner
