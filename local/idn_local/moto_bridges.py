"""Where moto's EventBridge differs from AWS on the path SailPoint uses, and how local mode bridges it.

Checked against moto 5 (tests/integration/test_eventbridge_moto.py keeps each point honest):

- moto has partner event sources (`CreatePartnerEventSource`, `DescribeEventSource`), partner buses
  (`CreateEventBus` with `EventSourceName`, which requires the source), rules, SQS targets, and
  `PutEvents` delivering through a matching rule to an SQS queue: no bridge needed there.
- **Bridged:** moto reduces an event bus name or ARN to its last `/` segment, so a partner bus
  (`aws.partner/sailpoint.com/{subscription}/idn/{trigger}`) is not found by `PutRule`, `PutTargets`,
  `PutEvents` or `DeleteRule`. `partner_bus_names` keeps everything from `aws.partner/` on.
- **Bridged:** `DescribeEventSource` of a source that does not exist answers 500 (a KeyError) instead
  of `ResourceNotFoundException`; the bridge raises the latter, as AWS does.
- **Not emulated, and not needed locally:** a new source is `ACTIVE` at once (AWS: `PENDING` until a
  bus is associated - `PartnerBuses.is_pending` therefore also checks that the bus exists); the
  queue policy is not enforced; a target's retry policy and dead-letter queue are stored, never used
  (moto delivers once, synchronously, inside `PutEvents`).

The patches apply to moto's backend in this process, i.e. to the `ThreadedMotoServer` local mode and
the tests start; they are idempotent.
"""

from __future__ import annotations

from typing import Any

PARTNER_PREFIX = "aws.partner/"


def apply() -> None:
    """Patch moto's EventBridge backend (once per process)."""
    from moto.events import models
    from moto.events.exceptions import ResourceNotFoundException

    backend = models.EventsBackend
    if getattr(backend, "_idn_local_bridged", False):
        return
    normalize = backend._normalize_event_bus_arn

    def partner_bus_names(self: Any, event_bus_arn: str | None) -> str:
        if event_bus_arn and PARTNER_PREFIX in event_bus_arn:
            return event_bus_arn[event_bus_arn.index(PARTNER_PREFIX) :]
        return str(normalize(self, event_bus_arn))

    describe = backend.describe_event_source

    def describe_event_source(self: Any, name: str) -> Any:
        if name not in self.event_sources:
            raise ResourceNotFoundException(f"Event source {name} does not exist.")
        return describe(self, name)

    backend._normalize_event_bus_arn = partner_bus_names  # type: ignore[method-assign]
    backend.describe_event_source = describe_event_source  # type: ignore[method-assign]
    backend._idn_local_bridged = True  # type: ignore[attr-defined]
