"""`idn-triggers doctor --drift`: the tenant's trigger list against the shipped catalogue."""

from __future__ import annotations

import copy
import json
from typing import Any

from idn_tools.tenant_doctor import schema_drift
from idn_triggers.catalogue import known_triggers, trigger_document
from idn_triggers.token_store import stored_token_age


class Tenant:
    """What SailPoint's GET /triggers answers: schemas as JSON strings."""

    def __init__(self, triggers: list[dict[str, Any]]) -> None:
        self.triggers = triggers

    def list_triggers(self) -> list[dict[str, Any]]:
        return self.triggers


def tenant_catalogue() -> list[dict[str, Any]]:
    listed = []
    for trigger_id in known_triggers():
        document = trigger_document(trigger_id)
        listed.append(
            {
                "id": trigger_id,
                "inputSchema": json.dumps(document.get("inputSchema")),
                "outputSchema": json.dumps(document["outputSchema"])
                if document.get("outputSchema")
                else None,
            }
        )
    return listed


def test_a_tenant_with_the_shipped_catalogue_shows_no_drift() -> None:
    assert schema_drift(Tenant(tenant_catalogue())) == []  # type: ignore[arg-type]


def test_changed_schemas_new_and_missing_triggers_are_each_named() -> None:
    triggers = tenant_catalogue()
    by_id = {t["id"]: t for t in triggers}
    schema = json.loads(by_id["idn:identity-created"]["inputSchema"])
    schema["properties"]["newField"] = {"type": "string"}
    schema["properties"]["identity"]["description"] = "reworded: not a drift"
    by_id["idn:identity-created"]["inputSchema"] = json.dumps(schema)
    output = json.loads(by_id["idn:access-request-pre-approval"]["outputSchema"])
    output["required"] = ["approved"]
    by_id["idn:access-request-pre-approval"]["outputSchema"] = json.dumps(output)
    triggers = [t for t in triggers if t["id"] != "idn:identity-deleted"] + [{"id": "idn:brand-new"}]

    drift = schema_drift(Tenant(copy.deepcopy(triggers)))  # type: ignore[arg-type]

    assert {
        "trigger": "idn:identity-created",
        "schema": "input",
        "change": "added at the tenant",
        "path": "/properties/newField",
    } in drift
    assert {
        "trigger": "idn:access-request-pre-approval",
        "schema": "output",
        "change": "changed",
        "path": "/required",
    } in drift
    assert {
        "trigger": "idn:identity-deleted",
        "schema": "-",
        "change": "not listed by the tenant",
        "path": "",
    } in drift
    assert any(row["trigger"] == "idn:brand-new" and row["change"] == "new at the tenant" for row in drift)
    assert len(drift) == 4


def test_the_stored_tokens_age_and_remaining_life() -> None:
    stored = {"access_token": "t", "expires_at": 1_000.0 + 749, "issued_at": 1_000.0}

    assert stored_token_age(stored, now=1_100.0) == (100.0, 649.0)
    assert stored_token_age({"access_token": "t", "expires_at": 1_749.0}, now=1_100.0) == (None, 649.0)
    assert stored_token_age({}, now=1_100.0) is None
