"""Base model for SailPoint payloads: tolerant of drift, faithful on the way out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, alias_generators


class SailPointModel(BaseModel):
    """Inputs keep unknown fields (payloads drift from the published schema) and use SailPoint's
    camelCase names on the wire while exposing snake_case attributes."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        alias_generator=alias_generators.to_camel,
        serialize_by_alias=True,
    )

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON-ready dict SailPoint expects (camelCase, no unset optionals)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class SailPointOutput(SailPointModel):
    """Answers are strict: an extra or missing field must be caught before SailPoint sees it."""

    model_config = ConfigDict(extra="forbid", strict=True)
