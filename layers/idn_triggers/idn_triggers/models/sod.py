"""Separation-of-duties (SOD) violation triggers: created, mitigated, reopened, closed.

These four appear only as webhooks in SailPoint's frozen v2026 spec (no docs page, ids unverified),
and their schema requires nothing; the violation id is required here because without it there is
nothing to act on.
"""

from __future__ import annotations

from datetime import datetime

from idn_triggers.models.base import SailPointModel
from idn_triggers.models.common import ListOrNull, Ref


class SodViolation(SailPointModel):
    """A violation of an SOD `policy` by a `target` identity. `status` is sent on created and
    mitigated events, `previousStatus`/`currentStatus` on reopened and closed ones; `state` reads
    whichever is present. `level` is the policy's severity (e.g. High)."""

    id: str
    name: str | None = None
    level: str | None = None
    status: str | None = None
    previous_status: str | None = None
    current_status: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    last_evaluated_date: datetime | None = None
    owner: Ref | None = None
    policy: Ref | None = None
    target: Ref | None = None

    @property
    def state(self) -> str | None:
        return self.current_status or self.status


class SodViolationCreated(SodViolation):
    """`idn:sod-violation-created`."""


class SodViolationReopened(SodViolation):
    """`idn:sod-violation-reopened`: `reason` is 'Conflicting Criteria Updated' or 'Applied Control
    Expired'."""

    reason: str | None = None


class AppliedControl(SailPointModel):
    """A compensating control applied to a violation (`status` Pending, Active, Completed...)."""

    id: str | None = None
    status: str | None = None
    applied_date: datetime | None = None
    expiration: datetime | None = None
    applier: Ref | None = None
    control: Ref | None = None
    comments: str | None = None
    violation: str | None = None
    workflow_id: str | None = None


class SodViolationMitigated(SodViolation):
    """`idn:sod-violation-mitigated`: compensating controls were applied until `expiration`."""

    expiration: datetime | None = None
    applied_controls: ListOrNull[AppliedControl]


class SodViolationClosed(SodViolation):
    """`idn:sod-violation-closed`."""
