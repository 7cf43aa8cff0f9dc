"""Building blocks shared by the trigger models: references, attribute changes, tolerant lists.

Fire-and-forget deliveries are never resent, so a payload refused here is lost. Everything is
therefore optional except the id of the object an event is about (`SubjectRef`), and shapes that
drift between SailPoint's docs and spec are normalised on the way in.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, Field

from idn_triggers.models.base import SailPointModel

T = TypeVar("T")


def none_as_empty(value: Any) -> Any:
    """`null` where the spec allows it becomes an empty list, so handlers can always iterate."""
    return [] if value is None else value


def one_or_many(value: Any) -> Any:
    """A single object where the spec says array (the docs' `requestedFor`) becomes a list of one."""
    return [value] if isinstance(value, dict) else none_as_empty(value)


ListOrNull = Annotated[list[T], BeforeValidator(none_as_empty), Field(default_factory=list)]
"""A list that SailPoint may send as `null` or leave out; always a list once parsed."""

OneOrMany = Annotated[list[T], BeforeValidator(one_or_many), Field(default_factory=list)]
"""A list that SailPoint's docs sometimes show as a single object."""


class Ref(SailPointModel):
    """A reference SailPoint attaches to an event (actor, owner, source, requester...). Every part is
    optional: a malformed side reference must not cost the whole event."""

    id: str | None = None
    type: str | None = None
    name: str | None = None


class SubjectRef(Ref):
    """The object an event is about. Without its id the event cannot be acted on, so it is required."""

    id: str


class AttributeChange(SailPointModel):
    """One changed attribute: `{attribute, oldValue, newValue}` (identity and account changes). Values
    may be strings, booleans, lists or objects, and are personal data: never log them."""

    attribute: str | None = None
    old_value: Any = None
    new_value: Any = None


class ValueChange(SailPointModel):
    """One changed single-valued attribute: `{name, oldValue, newValue}` (account V2 events)."""

    name: str | None = None
    old_value: Any = None
    new_value: Any = None


class MultiValueChange(SailPointModel):
    """Values added to and removed from a multi-valued attribute (group memberships, flags)."""

    name: str | None = None
    added_values: ListOrNull[Any]
    removed_values: ListOrNull[Any]


class Entitlement(SailPointModel):
    """An entitlement gained or lost on an account; `owner` is `null` for unowned ones."""

    id: str | None = None
    name: str | None = None
    value: str | None = None
    owner: Ref | None = None


class EntitlementChange(SailPointModel):
    """Entitlements added and removed through one account attribute (e.g. `memberOf`)."""

    attribute_name: str | None = None
    added: ListOrNull[Entitlement]
    removed: ListOrNull[Entitlement]


def attribute_names(changes: list[AttributeChange] | list[ValueChange] | list[MultiValueChange]) -> list[str]:
    """The names of the changed attributes, in order, without duplicates: safe to log, unlike values."""
    names: dict[str, None] = {}
    for change in changes:
        name = change.attribute if isinstance(change, AttributeChange) else change.name
        if name:
            names[name] = None
    return list(names)
