"""Models for triggers the catalogue does not know: ids enabled through `EXTRA_TRIGGERS`.

Any JSON object is accepted and kept whole, so a new SailPoint trigger can be served before a typed
model exists for it.
"""

from __future__ import annotations

from typing import Any

from idn_triggers.models.base import SailPointModel


class GenericTriggerEvent(SailPointModel):
    """The input of a trigger without a typed model: every field is kept as sent."""

    @property
    def payload(self) -> dict[str, Any]:
        """The payload as SailPoint sent it (keys as on the wire)."""
        return dict(self.model_extra or {})


class GenericTriggerOutput(SailPointModel):
    """The answer to a REQUEST_RESPONSE trigger without a typed model: any JSON object. Prefer a
    strict `SailPointOutput` subclass once the trigger's output schema is known."""
