"""One normalised, PII-safe log line per trigger event, shared by every handler template.

Trigger payloads are full of personal data (names, emails, attribute values, DNs). A handler that
logs "what happened" should log only what identifies and classifies the event, so this helper
accepts nothing else: ids, types and statuses (`labels`), counts, and the *names* of changed
attributes. Every summary has the same keys, so one CloudWatch Logs Insights query can read all
triggers, e.g. `filter summary.operation = "deleted" | stats count() by summary.trigger_id`.

Never pass a name, email, native identity (often a DN naming the person), free-text message or
attribute value: the handler contract (tests/contract) checks every handler's logs for the payloads'
personal data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from aws_lambda_powertools import Logger

from idn_triggers.handlers import HandlerContext

Label = str | int | float | bool | None


class HasId(Protocol):
    """Anything with an id, such as the models' references (`event.source`, `event.actor`)."""

    @property
    def id(self) -> str | None: ...


logger = Logger()  # same service name as the function's Logger, so they share one handler


@dataclass(frozen=True, slots=True)
class EventSummary:
    """What happened to which object: `operation` on (`subject_type`, `subject_id`), with the ids of
    related objects by role (`related`), enum-like facts (`labels`), counts and attribute names."""

    trigger_id: str
    operation: str
    subject_type: str
    subject_id: str | None
    related: Mapping[str, str | None] = field(default_factory=dict)
    labels: Mapping[str, Label] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)
    attributes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The JSON-ready form logged under `summary` (empty parts left out)."""
        data: dict[str, Any] = {
            "trigger_id": self.trigger_id,
            "operation": self.operation,
            "subject": {"type": self.subject_type, "id": self.subject_id},
        }
        parts = {
            "related": dict(self.related),
            "labels": dict(self.labels),
            "counts": dict(self.counts),
            "attributes": list(self.attributes),
        }
        data.update({key: value for key, value in parts.items() if value})
        return data


def summarise(
    context: HandlerContext,
    operation: str,
    subject_type: str,
    subject_id: str | None,
    *,
    related: Mapping[str, str | HasId | None] | None = None,
    labels: Mapping[str, Label] | None = None,
    counts: Mapping[str, int] | None = None,
    attributes: Iterable[str] = (),
    level: Literal["INFO", "WARNING"] = "INFO",
) -> EventSummary:
    """Log the event's summary and return it (so a handler can test or reuse it).

    `context` is the handler's own (`def handle(event: X, context: HandlerContext)`): the summary
    takes the trigger id from the invocation, so a handler names its trigger only in its decorator.
    `related` maps a role to an id or to a reference object, whose id is taken: pass `event.source`
    rather than `event.source.id if event.source else None`.
    `level="WARNING"` marks events someone should look at (a failed aggregation, a new violation).
    """
    summary = EventSummary(
        trigger_id=context.trigger_id,
        operation=operation,
        subject_type=subject_type,
        subject_id=subject_id,
        related={
            role: ref if ref is None or isinstance(ref, str) else ref.id
            for role, ref in (related or {}).items()
        },
        labels=dict(labels or {}),
        counts=dict(counts or {}),
        attributes=tuple(dict.fromkeys(attributes)),
    )
    log = logger.warning if level == "WARNING" else logger.info
    # stacklevel=3: the log line's `location` is the handler that called us, not this helper.
    log("trigger event summary", stacklevel=3, extra={"summary": summary.as_dict()})
    return summary
