"""Settings of one simulated tenant; every limit is configurable so tests can shrink it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """How the simulator listens and which client it accepts.

        ``port=0`` asks the OS for a free port. ``rate_limit_per_10s=None`` (or 0) disables the rate
        limit. ``public_url`` overrides the base of callback URLs (when listening on 0.0.0.0).
    ``aws_endpoint_url`` is where EVENTBRIDGE subscriptions deliver (never real AWS unless you say so).
    """

    client_id: str = "simulator-client"
    client_secret: str = "simulator-secret"  # noqa: S105 - a local test double's default
    host: str = "127.0.0.1"
    port: int = 0
    token_lifetime: int = 749
    rate_limit_per_10s: int | None = 100
    delivery_timeout: float = 10.0
    max_body_bytes: int = 1024 * 1024
    public_url: str | None = None
    tenant: str = "simulated"
    # EVENTBRIDGE subscriptions: the AWS endpoint (an emulator such as moto's server) where partner
    # event sources are created and events put; None = EVENTBRIDGE deliveries fail with that reason.
    aws_endpoint_url: str | None = None
    # The invocation history keeps successful invocations 24 h and failed ones 48 h (the spec).
    success_retention_hours: float = 24.0
    failure_retention_hours: float = 48.0
