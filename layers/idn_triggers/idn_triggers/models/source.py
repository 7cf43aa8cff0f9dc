"""Source triggers: source lifecycle, aggregation results and virtual appliance (VA) cluster health."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from idn_triggers.models.base import SailPointModel
from idn_triggers.models.common import ListOrNull, Ref, SubjectRef


class SourceEvent(SailPointModel):
    """A source was created, updated or deleted; `actor` is the identity who did it. `type` is the
    source type (e.g. DIRECT_CONNECT), `connector` the connector script (e.g. active-directory)."""

    id: str
    name: str | None = None
    type: str | None = None
    connector: str | None = None
    actor: Ref | None = None


class SourceCreated(SourceEvent):
    """`idn:source-created`."""

    created: datetime | None = None


class SourceUpdated(SourceEvent):
    """`idn:source-updated`."""

    modified: datetime | None = None


class SourceDeleted(SourceEvent):
    """`idn:source-deleted`."""

    deleted: datetime | None = None


class AggregationStats(SailPointModel):
    """Account counts of one aggregation run."""

    scanned: int | None = None
    unchanged: int | None = None
    changed: int | None = None
    added: int | None = None
    removed: int | None = None


class AggregationEvent(SailPointModel):
    """An aggregation of a source finished. `status` is Success, Failed or Terminated; `errors` and
    `warnings` are free text (may quote account data: count them, do not log them)."""

    source: SubjectRef
    status: str | None = None
    started: datetime | None = None
    completed: datetime | None = None
    errors: ListOrNull[str]
    warnings: ListOrNull[str]
    stats: AggregationStats | None = None

    @property
    def succeeded(self) -> bool:
        return (self.status or "").lower() == "success"

    @property
    def stat_counts(self) -> dict[str, int]:
        """The aggregation's account counts that SailPoint sent (scanned, added, removed...)."""
        if self.stats is None:
            return {}
        counts = {name: getattr(self.stats, name) for name in AggregationStats.model_fields}
        return {name: count for name, count in counts.items() if count is not None}

    @property
    def duration_seconds(self) -> float | None:
        if self.started is None or self.completed is None:
            return None
        return (self.completed - self.started).total_seconds()


class AccountAggregationCompleted(AggregationEvent):
    """`idn:account-aggregation-completed`: accounts were collected and processed. The docs example
    gives `source.type` as IDENTITY where the spec says SOURCE; `type` is not checked."""


class AggregationAccountsCollected(AggregationEvent):
    """`idn:aggregation-accounts-collected`: accounts were collected, before they are processed."""


class HealthCheckResult(SailPointModel):
    """One health check: `status` Succeeded or Failed, `resultType` such as SOURCE_STATE_ERROR_CLUSTER;
    `message` is free text."""

    message: str | None = None
    result_type: str | None = None
    status: str | None = None


class HealthCheckedApplication(SubjectRef):
    """The source or VA cluster whose health changed."""

    attributes: dict[str, Any] | None = None


class VaClusterStatusChange(SailPointModel):
    """`idn:va-cluster-status-change`: a source's or VA cluster's health check result changed (checks
    run every 30 minutes; the trigger fires only on a change). `type` is SOURCE or CLUSTER."""

    created: datetime | None = None
    type: str | None = None
    application: HealthCheckedApplication
    health_check_result: HealthCheckResult | None = None
    previous_health_check_result: HealthCheckResult | None = None

    @property
    def healthy(self) -> bool | None:
        """Whether the latest check succeeded (None when SailPoint sent no result)."""
        if self.health_check_result is None or self.health_check_result.status is None:
            return None
        return self.health_check_result.status.lower() == "succeeded"
