"""Triggers outside the identity/account/source families: form submitted, saved search complete."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from idn_triggers.models.base import SailPointModel
from idn_triggers.models.common import ListOrNull, Ref


class FormSubmitted(SailPointModel):
    """`idn:form-submitted`: someone submitted a form instance. `createdBy` is the WORKFLOW_EXECUTION
    or SOURCE that created it; `formData` holds the answers (personal data)."""

    form_instance_id: str
    form_definition_id: str | None = None
    name: str | None = None
    tenant_id: str | None = None
    submitted_at: datetime | None = None
    created_by: Ref | None = None
    submitted_by: Ref | None = None
    form_data: dict[str, Any] | None = None


class SavedSearchResults(SailPointModel):
    """How many results of one kind (Account, Entitlement, Identity...) the search found. The spec
    types `count` as a string; the examples send integers; both are read as an integer."""

    count: int | None = None
    noun: str | None = None
    preview: ListOrNull[Any]


class SavedSearchComplete(SailPointModel):
    """`idn:saved-search-complete`: a scheduled search ran and its report can be downloaded.

    `signedS3Url` is a pre-signed download link (a bearer credential until it expires): pass it on,
    never log it. `ownerName`, `ownerEmail` and the search `query` are personal data too.
    """

    signed_s3_url: str
    file_name: str | None = None
    search_name: str | None = None
    query: str | None = None
    owner_name: str | None = None
    owner_email: str | None = None
    search_results: dict[str, SavedSearchResults | None] = Field(default_factory=dict)

    @property
    def result_counts(self) -> dict[str, int]:
        """Result count per kind, e.g. {"Account": 3, "Identity": 2}."""
        return {
            kind: result.count
            for kind, result in self.search_results.items()
            if result is not None and result.count is not None
        }
