"""SailPoint's published trigger catalogue, shipped as data (one JSON document per trigger).

The index (ids, names, types, availability) is small and read once per container; the full
documents (schemas, examples) are read only when something asks for one trigger.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"


class TriggerType(StrEnum):
    REQUEST_RESPONSE = "REQUEST_RESPONSE"
    FIRE_AND_FORGET = "FIRE_AND_FORGET"


class Availability(StrEnum):
    GA = "GA"
    EARLY_ACCESS = "EARLY_ACCESS"
    DEPRECATED = "DEPRECATED"
    REMOVED = "REMOVED"
    SPEC_ONLY = "SPEC_ONLY"
    CONFIGURED = "CONFIGURED"  # added by the deployer for an id the catalogue does not know yet


@dataclass(frozen=True, slots=True)
class TriggerInfo:
    id: str
    name: str
    type: TriggerType
    availability: Availability
    id_verified: bool
    file: str | None = None

    @property
    def is_request_response(self) -> bool:
        return self.type is TriggerType.REQUEST_RESPONSE


@cache
def known_triggers() -> dict[str, TriggerInfo]:
    """Every trigger in SailPoint's catalogue, by id."""
    index = json.loads((DATA_DIR / "index.json").read_text(encoding="utf-8"))
    return {
        entry["id"]: TriggerInfo(
            id=entry["id"],
            name=entry["name"],
            type=TriggerType(entry["type"]),
            availability=Availability(entry["availability"]),
            id_verified=bool(entry["idVerified"]),
            file=entry["file"],
        )
        for entry in index["triggers"]
    }


def configured_trigger(
    trigger_id: str, trigger_type: TriggerType = TriggerType.FIRE_AND_FORGET
) -> TriggerInfo:
    """A trigger the deployer enabled by id before the catalogue knew it."""
    return TriggerInfo(trigger_id, trigger_id, trigger_type, Availability.CONFIGURED, id_verified=False)


@cache
def trigger_document(trigger_id: str) -> dict[str, Any]:
    """The full catalogue document of one trigger (schemas, examples, notes)."""
    info = known_triggers().get(trigger_id)
    if info is None or info.file is None:
        raise KeyError(trigger_id)
    document: dict[str, Any] = json.loads((DATA_DIR / info.file).read_text(encoding="utf-8"))
    return document
