"""Every trigger's models against SailPoint's catalogue data, the drift they tolerate, and lazy loading."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from idn_triggers.catalogue import (
    TRIGGER_MODELS,
    Availability,
    TriggerType,
    configured_trigger,
    known_triggers,
    trigger_document,
)
from idn_triggers.models.access_request import AccessRequestPostApproval
from idn_triggers.models.account import AccountUpdated, NativeChangeAccountUpdated
from idn_triggers.models.base import SailPointModel
from idn_triggers.models.generic import GenericTriggerEvent, GenericTriggerOutput
from idn_triggers.models.identity import OutlierDetected
from idn_triggers.models.misc import SavedSearchComplete
from idn_triggers.models.source import AccountAggregationCompleted
from tests.support import ROOT

TRIGGERS = sorted(known_triggers())
REQUEST_RESPONSE = [t for t in TRIGGERS if known_triggers()[t].is_request_response]
EXAMPLES = [
    (trigger_id, key)
    for trigger_id in TRIGGERS
    for key in ("exampleInput", "exampleInputFromSpecSchema")
    if isinstance(trigger_document(trigger_id).get(key), dict)
]


def load_check_models() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_models", ROOT / "scripts" / "check_models.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_models = load_check_models()


def example(trigger_id: str, key: str = "exampleInput") -> dict[str, Any]:
    return copy.deepcopy(trigger_document(trigger_id)[key])


def test_the_catalogue_has_42_triggers_and_each_a_model() -> None:
    assert len(TRIGGERS) == 42
    assert set(TRIGGER_MODELS) == set(TRIGGERS)


@pytest.mark.parametrize("trigger_id", TRIGGERS)
def test_each_trigger_loads_its_models_on_demand(trigger_id: str) -> None:
    info = known_triggers()[trigger_id]
    model = info.load_input_model()
    assert issubclass(model, SailPointModel) and model is not GenericTriggerEvent
    assert (info.load_output_model() is not None) == info.is_request_response


@pytest.mark.parametrize(("trigger_id", "key"), EXAMPLES)
def test_every_published_example_parses_and_keeps_every_field(trigger_id: str, key: str) -> None:
    data = example(trigger_id, key)
    event = known_triggers()[trigger_id].load_input_model().model_validate(data)
    assert isinstance(event, SailPointModel)
    assert set(data) <= set(event.to_json_dict())


def test_check_models_script_passes_on_the_shipped_catalogue() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_models.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "OK: 42 triggers" in result.stdout


def test_check_models_script_fails_with_a_report_on_a_changed_catalogue(tmp_path: Path) -> None:
    # Given a catalogue where SailPoint renamed the identity of identity-created and added a trigger
    document = trigger_document("idn:identity-created")
    changed = dict(document, exampleInput={"who": {"id": "1"}, "attributes": {}})
    new = {"id": "idn:brand-new", "type": "FIRE_AND_FORGET", "file": "new.json"}
    (tmp_path / "created.json").write_text(json.dumps(changed))
    (tmp_path / "new.json").write_text(json.dumps({**new, "inputSchema": {}}))
    entries = [{"id": "idn:identity-created", "file": "created.json"}, new]
    (tmp_path / "index.json").write_text(json.dumps({"triggers": entries}))
    # When the check runs on it
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_models.py"), "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    # Then it fails, naming each problem
    assert result.returncode == 1
    assert "idn:brand-new: no model" in result.stderr
    assert "idn:identity-created: exampleInput does not parse with IdentityCreated: identity" in result.stderr
    assert "idn:access-request-pre-approval: has a model but is not in the catalogue" in result.stderr


def test_check_models_flags_a_model_stricter_than_schema_and_examples() -> None:
    # Given the SOD schema (which requires nothing) and an example without the violation id
    document = copy.deepcopy(trigger_document("idn:sod-violation-created"))
    del document["exampleInput"]["id"]
    problems = check_models.check_trigger(document, *TRIGGER_MODELS["idn:sod-violation-created"])
    assert any("requires id, which the input schema does not require" in p for p in problems)


def test_check_models_looks_into_nested_lists() -> None:
    document = copy.deepcopy(trigger_document("idn:access-request-pre-approval"))
    document["inputSchema"]["properties"]["requestedItems"]["items"]["required"].remove("name")
    document["exampleInputFromSpecSchema"]["requestedItems"][0].pop("name")
    problems = check_models.check_trigger(document, *TRIGGER_MODELS["idn:access-request-pre-approval"])
    assert any("requires requestedItems[].name" in p for p in problems)


def test_check_models_flags_an_output_model_that_accepts_an_invalid_answer() -> None:
    document = copy.deepcopy(trigger_document("idn:access-request-dynamic-approver"))
    document["exampleOutputsAllValidation"][0] = ["pretend the schema refused it"]
    problems = check_models.check_trigger(document, *TRIGGER_MODELS["idn:access-request-dynamic-approver"])
    assert problems == [
        "idn:access-request-dynamic-approver: example output 0 fails the output schema but is accepted"
    ]


@pytest.mark.parametrize("trigger_id", REQUEST_RESPONSE)
def test_valid_example_outputs_validate_with_the_output_model_and_schema(trigger_id: str) -> None:
    document = trigger_document(trigger_id)
    model = known_triggers()[trigger_id].load_output_model()
    assert model is not None
    valid = [
        output
        for output, verdict in zip(
            document["exampleOutputsAll"], document["exampleOutputsAllValidation"], strict=True
        )
        if verdict is True
    ]
    assert valid
    for output in valid:
        jsonschema.validate(model.model_validate(output).model_dump(mode="json"), document["outputSchema"])


# --- documented drift ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["exampleInput", "exampleInputFromSpecSchema"])
def test_post_approval_requested_for_is_a_list_whether_object_or_array(key: str) -> None:
    data = example("idn:access-request-post-approval", key)
    event = AccessRequestPostApproval.model_validate(data)
    expected = data["requestedFor"] if isinstance(data["requestedFor"], list) else [data["requestedFor"]]
    assert [r.id for r in event.requested_for] == [r["id"] for r in expected]


def test_post_approval_item_with_a_denial_is_denied() -> None:
    data = example("idn:access-request-post-approval")
    data["requestedItemsStatus"][0]["approvalInfo"].append({"approvalDecision": "DENIED"})
    event = AccessRequestPostApproval.model_validate(data)
    assert [i.id for i in event.denied_items] == [data["requestedItemsStatus"][0]["id"]]
    assert event.approved_items == []


@pytest.mark.parametrize("count", [3, "3"])
def test_saved_search_count_is_read_as_a_number_from_string_or_integer(count: int | str) -> None:
    data = example("idn:saved-search-complete")
    data["searchResults"]["Account"]["count"] = count
    assert SavedSearchComplete.model_validate(data).result_counts["Account"] == 3


def test_native_change_flat_spec_shape_reads_like_the_docs_shape() -> None:
    flat = example("idn:native-change-account-updated", "exampleInputFromSpecSchema")
    event = NativeChangeAccountUpdated.model_validate(flat)
    assert event.account_id == flat["id"]
    assert event.source is not None and event.source.id == flat["sourceId"]
    assert event.identity is not None and event.identity.id == flat["identityId"]
    assert event.to_json_dict()["nativeIdentifier"] == flat["nativeIdentifier"]


def test_native_change_docs_shape_exposes_changes() -> None:
    event = NativeChangeAccountUpdated.model_validate(example("idn:native-change-account-updated"))
    assert event.account_id == "2c91808378eb9fa30178fb9481a30afa"
    assert [e.name for e in event.entitlements_added] == ["Accounts Payable"]
    assert event.changed_attributes == ["title", "accountFlags"]


def test_native_change_without_any_account_id_is_refused() -> None:
    with pytest.raises(ValidationError, match="account"):
        NativeChangeAccountUpdated.model_validate({"eventType": "ACCOUNT_UPDATED", "sourceId": "s"})


def test_null_lists_become_empty_lists() -> None:
    data = example("idn:account-updated")
    data.update(singleValueAttributeChanges=None, entitlementChanges=None)
    event = AccountUpdated.model_validate(data)
    assert event.entitlements_added == [] and event.changed_attributes == ["memberOf"]
    aggregation = example("idn:account-aggregation-completed")
    aggregation.update(errors=None, warnings=None)
    assert AccountAggregationCompleted.model_validate(aggregation).errors == []


def test_outlier_identity_display_name_from_the_docs_is_kept() -> None:
    event = OutlierDetected.model_validate(example("idn:outlier-detected"))
    assert event.identity.display_name == "John Doe" and event.identity.name is None


# The subject's id is the one thing each event cannot do without.
SUBJECT_IDS = [
    ("idn:identity-created", ("identity", "id")),
    ("idn:identity-attributes-changed", ("identity", "id")),
    ("idn:account-attributes-changed", ("account", "id")),
    ("idn:account-updated", ("account", "id")),
    ("idn:account-aggregation-completed", ("source", "id")),
    ("idn:source-deleted", ("id",)),
    ("idn:campaign-ended", ("campaign", "id")),
    ("idn:sod-violation-created", ("id",)),
    ("idn:machine-identity-updated", ("machineIdentity", "id")),
    ("idn:access-request-post-approval", ("accessRequestId",)),
    ("idn:post-provisioning", ("trackingNumber",)),
    ("idn:form-submitted", ("formInstanceId",)),
    ("idn:va-cluster-status-change", ("application", "id")),
]


@pytest.mark.parametrize(("trigger_id", "path"), SUBJECT_IDS)
def test_missing_subject_id_is_refused(trigger_id: str, path: tuple[str, ...]) -> None:
    data = example(trigger_id)
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    with pytest.raises(ValidationError):
        known_triggers()[trigger_id].load_input_model().model_validate(data)


@pytest.mark.parametrize(
    ("trigger_id", "side"),
    [("idn:source-updated", "actor"), ("idn:account-correlated", "source"), ("idn:campaign-ended", None)],
)
def test_side_references_may_be_missing_or_incomplete(trigger_id: str, side: str | None) -> None:
    data = example(trigger_id)
    if side is None:
        del data["campaign"]["campaignOwner"]
    else:
        data[side] = {"type": "IDENTITY"}
    known_triggers()[trigger_id].load_input_model().model_validate(data)


# --- triggers the catalogue does not know -------------------------------------------------------


def test_configured_trigger_takes_any_json_object_and_keeps_it() -> None:
    info = configured_trigger("idn:brand-new")
    assert info.availability is Availability.CONFIGURED and info.load_output_model() is None
    event = info.load_input_model().model_validate({"anything": [1, {"nested": True}]})
    assert isinstance(event, GenericTriggerEvent)
    assert event.payload == {"anything": [1, {"nested": True}]}


def test_configured_request_response_trigger_answers_any_object() -> None:
    info = configured_trigger("idn:brand-new", TriggerType.REQUEST_RESPONSE)
    assert info.load_output_model() is GenericTriggerOutput


# --- lazy loading -------------------------------------------------------------------------------

LAZY_SCRIPT = """
import json, sys
from pathlib import Path
from idn_local.functions import load_function_module
app = load_function_module(Path(sys.argv[1]), "app")
from idn_triggers.catalogue import TRIGGER_MODELS, known_triggers, trigger_document
trigger_modules = {p.rpartition(".")[0] for pair in TRIGGER_MODELS.values() for p in pair if p}
trigger_modules |= {"idn_triggers.models.generic", "idn_triggers.models.common"}
loaded = lambda: sorted(m for m in sys.modules if m in trigger_modules or m.startswith("lazy_handlers."))
known_triggers()
before = loaded()
body = json.dumps(trigger_document("idn:access-request-pre-approval")["exampleInput"])
status = app.receiver.receive("idn:access-request-pre-approval", {}, body).status_code
print(json.dumps({"before": before, "after": loaded(), "status": status}))
"""


LAZY_HANDLER = """
from idn_triggers.handlers import trigger_handler
from idn_triggers.models.{model} import {event}


@trigger_handler("{trigger_id}")
def handle(event: {event}) -> None:
    pass
"""


def test_receiver_imports_no_trigger_model_until_that_trigger_is_used(tmp_path: Path) -> None:
    # Given a cold receiver with the full catalogue, and a handlers package with a module per
    # trigger, each importing its own model (written here: the product owns no user handler)
    package = tmp_path / "lazy_handlers"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    for trigger_id, (model, event) in {
        "idn:access-request-pre-approval": ("access_request", "AccessRequestPreApproval"),
        "idn:identity-created": ("identity", "IdentityCreated"),
    }.items():
        module = trigger_id.removeprefix("idn:").replace("-", "_")
        (package / f"{module}.py").write_text(
            LAZY_HANDLER.format(model=model, event=event, trigger_id=trigger_id), encoding="utf-8"
        )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("INBOUND_")},
        "INBOUND_AUTH_TYPE": "NO_AUTH",
        "HANDLERS_PACKAGE": "lazy_handlers",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", LAZY_SCRIPT, str(ROOT / "functions" / "receiver" / "app.py")],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # Then nothing trigger-specific was imported, and one (SYNC) delivery imports only its own modules
    assert report["before"] == []
    assert report["status"] == 200
    assert report["after"] == [
        "idn_triggers.models.access_request",
        "idn_triggers.models.common",
        "lazy_handlers.access_request_pre_approval",
    ]
