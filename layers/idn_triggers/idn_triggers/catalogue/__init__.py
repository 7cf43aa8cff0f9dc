"""SailPoint's published trigger catalogue, shipped as data (one JSON document per trigger).

The index (ids, names, types, availability) is small and read once per container; the full
documents (schemas, examples) are read only when something asks for one trigger. Each trigger also
names its input model (and, for REQUEST_RESPONSE, its output model) as a dotted path that is
imported only when asked for, so cold start does not grow with the number of triggers.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    ModelClass = type[BaseModel]  # `type` alone would mean TriggerInfo.type inside the class

DATA_DIR = Path(__file__).parent / "data"

_M = "idn_triggers.models."
GENERIC_INPUT_MODEL = _M + "generic.GenericTriggerEvent"
GENERIC_OUTPUT_MODEL = _M + "generic.GenericTriggerOutput"

# Trigger id -> (input model, output model of a REQUEST_RESPONSE trigger). Dotted paths, not imports:
# `scripts/check_models.py` keeps this table and the catalogue data in step.
TRIGGER_MODELS: dict[str, tuple[str, str | None]] = {
    "idn:access-request-pre-approval": (
        _M + "access_request.AccessRequestPreApproval",
        _M + "access_request.PreApprovalDecision",
    ),
    "idn:access-request-dynamic-approver": (
        _M + "access_request.AccessRequestDynamicApprover",
        _M + "access_request.DynamicApprover",
    ),
    "idn:access-request-post-approval": (_M + "access_request.AccessRequestPostApproval", None),
    "idn:account-aggregation-completed": (_M + "source.AccountAggregationCompleted", None),
    "idn:aggregation-accounts-collected": (_M + "source.AggregationAccountsCollected", None),
    "idn:source-created": (_M + "source.SourceCreated", None),
    "idn:source-updated": (_M + "source.SourceUpdated", None),
    "idn:source-deleted": (_M + "source.SourceDeleted", None),
    "idn:va-cluster-status-change": (_M + "source.VaClusterStatusChange", None),
    "idn:account-attributes-changed": (_M + "account.AccountAttributesChanged", None),
    "idn:account-correlated": (_M + "account.AccountCorrelated", None),
    "idn:account-uncorrelated": (_M + "account.AccountUncorrelated", None),
    "idn:account-created": (_M + "account.AccountCreated", None),
    "idn:account-updated": (_M + "account.AccountUpdated", None),
    "idn:account-deleted": (_M + "account.AccountDeleted", None),
    "idn:source-account-created": (_M + "account.SourceAccountCreated", None),
    "idn:source-account-updated": (_M + "account.SourceAccountUpdated", None),
    "idn:source-account-deleted": (_M + "account.SourceAccountDeleted", None),
    "idn:native-change-account-created": (_M + "account.NativeChangeAccountCreated", None),
    "idn:native-change-account-updated": (_M + "account.NativeChangeAccountUpdated", None),
    "idn:native-change-account-deleted": (_M + "account.NativeChangeAccountDeleted", None),
    "idn:post-provisioning": (_M + "account.PostProvisioning", None),
    "idn:identity-created": (_M + "identity.IdentityCreated", None),
    "idn:identity-attributes-changed": (_M + "identity.IdentityAttributesChanged", None),
    "idn:identity-deleted": (_M + "identity.IdentityDeleted", None),
    "idn:outlier-detected": (_M + "identity.OutlierDetected", None),
    "idn:campaign-generated": (_M + "campaign.CampaignGenerated", None),
    "idn:campaign-activated": (_M + "campaign.CampaignActivated", None),
    "idn:campaign-ended": (_M + "campaign.CampaignEnded", None),
    "idn:certification-signed-off": (_M + "campaign.CertificationSignedOff", None),
    "idn:sod-violation-created": (_M + "sod.SodViolationCreated", None),
    "idn:sod-violation-mitigated": (_M + "sod.SodViolationMitigated", None),
    "idn:sod-violation-reopened": (_M + "sod.SodViolationReopened", None),
    "idn:sod-violation-closed": (_M + "sod.SodViolationClosed", None),
    "idn:machine-identity-created": (_M + "machine_identity.MachineIdentityCreated", None),
    "idn:machine-identity-updated": (_M + "machine_identity.MachineIdentityUpdated", None),
    "idn:machine-identity-deleted": (_M + "machine_identity.MachineIdentityDeleted", None),
    "idn:ciem-auto-include-scope-setting-changed": (_M + "ciem.CiemAutoIncludeScopeSettingChanged", None),
    "idn:ciem-new-scope-detected": (_M + "ciem.CiemNewScopeDetected", None),
    "idn:ciem-scope-selection-changed": (_M + "ciem.CiemScopeSelectionChanged", None),
    "idn:form-submitted": (_M + "misc.FormSubmitted", None),
    "idn:saved-search-complete": (_M + "misc.SavedSearchComplete", None),
}


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
    """One trigger. `input_model`/`output_model` are dotted paths; `load_*` imports them on demand."""

    id: str
    name: str
    type: TriggerType
    availability: Availability
    id_verified: bool
    file: str | None = None
    input_model: str = GENERIC_INPUT_MODEL
    output_model: str | None = None

    @property
    def is_request_response(self) -> bool:
        return self.type is TriggerType.REQUEST_RESPONSE

    def load_input_model(self) -> ModelClass:
        return resolve_model(self.input_model)

    def load_output_model(self) -> ModelClass | None:
        return resolve_model(self.output_model) if self.output_model else None


@cache
def resolve_model(path: str) -> type[BaseModel]:
    """Import `package.module.Class` and return the class; raises if it is not a pydantic model."""
    from pydantic import BaseModel

    module_name, _, attribute = path.rpartition(".")
    model = getattr(importlib.import_module(module_name), attribute)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{path} is not a pydantic model")
    return model


@cache
def known_triggers() -> dict[str, TriggerInfo]:
    """Every trigger in SailPoint's catalogue, by id."""
    index = json.loads((DATA_DIR / "index.json").read_text(encoding="utf-8"))
    triggers = {}
    for entry in index["triggers"]:
        # A trigger missing from TRIGGER_MODELS is still served, untyped; check_models flags it.
        input_model, output_model = TRIGGER_MODELS.get(entry["id"], (GENERIC_INPUT_MODEL, None))
        triggers[entry["id"]] = TriggerInfo(
            id=entry["id"],
            name=entry["name"],
            type=TriggerType(entry["type"]),
            availability=Availability(entry["availability"]),
            id_verified=bool(entry["idVerified"]),
            file=entry["file"],
            input_model=input_model,
            output_model=output_model,
        )
    return triggers


def configured_trigger(
    trigger_id: str, trigger_type: TriggerType = TriggerType.FIRE_AND_FORGET
) -> TriggerInfo:
    """A trigger the deployer enabled by id before the catalogue knew it: any JSON object in (and out)."""
    output = GENERIC_OUTPUT_MODEL if trigger_type is TriggerType.REQUEST_RESPONSE else None
    return TriggerInfo(
        trigger_id,
        trigger_id,
        trigger_type,
        Availability.CONFIGURED,
        id_verified=False,
        input_model=GENERIC_INPUT_MODEL,
        output_model=output,
    )


@cache
def trigger_document(trigger_id: str) -> dict[str, Any]:
    """The full catalogue document of one trigger (schemas, examples, notes)."""
    info = known_triggers().get(trigger_id)
    if info is None or info.file is None:
        raise KeyError(trigger_id)
    document: dict[str, Any] = json.loads((DATA_DIR / info.file).read_text(encoding="utf-8"))
    return document
