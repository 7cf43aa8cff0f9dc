"""Fixtures shared by the integration tests that talk to the tenant simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from idn_simulator import TenantSimulator
from tests.integration.conftest_simulator import running_simulator


@pytest.fixture
def sim() -> Iterator[TenantSimulator]:
    """A started simulator for the test client (rate limit off); no thread is left behind."""
    with running_simulator() as simulator:
        yield simulator
