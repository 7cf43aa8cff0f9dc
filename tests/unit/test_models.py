"""The access-request models against SailPoint's published examples and schemas."""

from __future__ import annotations

import jsonschema
import pytest
from pydantic import ValidationError

from idn_triggers.models.access_request import (
    AccessRequestDynamicApprover,
    AccessRequestPreApproval,
    DynamicApprover,
    PreApprovalDecision,
)
from tests.support import trigger_document

PRE = "idn:access-request-pre-approval"
DYN = "idn:access-request-dynamic-approver"
INPUT_MODELS = {PRE: AccessRequestPreApproval, DYN: AccessRequestDynamicApprover}


def examples(trigger_id: str) -> list[dict]:
    doc = trigger_document(trigger_id)
    return [e for e in (doc["exampleInput"], doc.get("exampleInputFromSpecSchema")) if e]


@pytest.mark.parametrize("trigger_id", [PRE, DYN])
def test_every_published_example_input_parses(trigger_id: str) -> None:
    for example in examples(trigger_id):
        event = INPUT_MODELS[trigger_id].model_validate(example)
        assert event.access_request_id == example["accessRequestId"]
        assert len(event.requested_items) == len(example["requestedItems"])


def test_requested_for_as_object_becomes_a_one_item_list() -> None:
    # Given the docs' example, where requestedFor is an object
    example = trigger_document(PRE)["exampleInput"]
    assert isinstance(example["requestedFor"], dict)
    # When it is parsed
    event = AccessRequestPreApproval.model_validate(example)
    # Then it is a list of one identity
    assert [r.id for r in event.requested_for] == [example["requestedFor"]["id"]]


def test_requested_for_as_array_is_kept() -> None:
    example = trigger_document(PRE)["exampleInputFromSpecSchema"]
    event = AccessRequestPreApproval.model_validate(example)
    assert [r.id for r in event.requested_for] == [r["id"] for r in example["requestedFor"]]


def test_unknown_fields_are_kept_and_round_trip() -> None:
    example = dict(trigger_document(PRE)["exampleInput"], futureField={"x": 1})
    event = AccessRequestPreApproval.model_validate(example)
    assert event.to_json_dict()["futureField"] == {"x": 1}


def test_form_data_on_items_is_typed() -> None:
    example = trigger_document(PRE)["exampleInputFromSpecSchema"]
    item = AccessRequestPreApproval.model_validate(example).requested_items[0]
    assert item.form is not None and item.form.form_data == {
        "department": "Engineering",
        "notifyRequester": True,
        "platforms": ["AWS", "GCP"],
    }


@pytest.mark.parametrize("missing", ["accessRequestId", "requestedFor", "requestedItems", "requestedBy"])
def test_missing_required_field_is_rejected_by_name(missing: str) -> None:
    example = dict(trigger_document(PRE)["exampleInput"])
    del example[missing]
    with pytest.raises(ValidationError) as caught:
        AccessRequestPreApproval.model_validate(example)
    assert missing in {str(e["loc"][0]) for e in caught.value.errors()}


def test_empty_requested_items_is_rejected() -> None:
    example = dict(trigger_document(PRE)["exampleInput"], requestedItems=[])
    with pytest.raises(ValidationError):
        AccessRequestPreApproval.model_validate(example)


def test_pre_approval_example_output_validates_and_matches_schema() -> None:
    doc = trigger_document(PRE)
    for output in doc["exampleOutputsAll"]:
        decision = PreApprovalDecision.model_validate(output)
        jsonschema.validate(decision.to_json_dict(), doc["outputSchema"])


def test_dynamic_approver_valid_example_outputs_validate_and_match_schema() -> None:
    doc = trigger_document(DYN)
    valid = [
        o
        for o, ok in zip(doc["exampleOutputsAll"], doc["exampleOutputsAllValidation"], strict=True)
        if ok is True
    ]
    assert len(valid) == 2
    for output in valid:
        jsonschema.validate(DynamicApprover.model_validate(output).to_json_dict(), doc["outputSchema"])


def test_dynamic_approver_nobody_is_the_documented_empty_object() -> None:
    # outputSchemaWebhookVariant: "If there is none, send an empty value" for id, name and type.
    variant = trigger_document(DYN)["outputSchemaWebhookVariant"]
    nobody = DynamicApprover.nobody().model_dump(mode="json", by_alias=True)

    assert nobody == {"id": "", "name": "", "type": ""} == DynamicApprover.NONE_ANSWER
    assert set(nobody) == set(variant["required"])
    assert all("send an empty value" in spec["description"] for spec in variant["properties"].values())


@pytest.mark.parametrize(
    "answer",
    [
        {"id": "", "name": "x", "type": ""},
        {"id": "g", "name": "G", "type": ""},
        {"id": "g", "name": "", "type": "IDENTITY"},
    ],
)
def test_dynamic_approver_half_empty_is_neither_someone_nor_nobody(answer: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        DynamicApprover.model_validate(answer)


def test_outputs_are_strict() -> None:
    with pytest.raises(ValidationError):
        PreApprovalDecision.model_validate({"approved": "yes", "comment": "c", "approver": "a"})
    with pytest.raises(ValidationError):
        PreApprovalDecision.model_validate({"approved": True, "comment": "c", "approver": "a", "extra": 1})
