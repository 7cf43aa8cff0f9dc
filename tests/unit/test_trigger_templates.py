"""Every trigger's handler template: in the module the rule names, typed with the catalogue's model,
and logging a summary that identifies the event without any of its personal data."""

from __future__ import annotations

import copy
import importlib
import io
import json
import pkgutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import trigger_handlers
from idn_triggers.catalogue import known_triggers, trigger_document
from idn_triggers.envelope import ResponseMode
from idn_triggers.handlers import HandlerContext, HandlerRegistry, TriggerHandler, declared_handlers
from idn_triggers.models.access_request import DynamicApprover
from idn_triggers.models.common import Ref
from idn_triggers.models.generic import GenericTriggerEvent
from idn_triggers.summaries import EventSummary, summarise
from tests.support import ROOT
from trigger_handlers import HANDLER_EXCEPTIONS, outlier_detected
from trigger_handlers import access_request_dynamic_approver as dynamic
from trigger_handlers import access_request_pre_approval as pre

TRIGGERS = sorted(known_triggers())
FIRE_AND_FORGET = [t for t in TRIGGERS if not known_triggers()[t].is_request_response]
REGISTRY = HandlerRegistry("trigger_handlers", HANDLER_EXCEPTIONS)
EXAMPLES = [
    (trigger_id, key)
    for trigger_id in FIRE_AND_FORGET
    for key in ("exampleInput", "exampleInputFromSpecSchema")
    if isinstance(trigger_document(trigger_id).get(key), dict)
]


@pytest.fixture
def logs(service_logs: io.StringIO) -> io.StringIO:
    return service_logs


def handler(trigger_id: str) -> TriggerHandler:
    found = REGISTRY.get(trigger_id)
    assert found is not None
    return found


def run(trigger_id: str, data: dict[str, Any]) -> Any:
    found = handler(trigger_id)
    return found(found.input_model.model_validate(data), HandlerContext(trigger_id, ResponseMode.SYNC))


def summaries(logs: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == "trigger event summary"]


def example(trigger_id: str, key: str = "exampleInput") -> dict[str, Any]:
    return copy.deepcopy(trigger_document(trigger_id)[key])


# --- registration: by rule, so a user's new module passes these checks as the catalogue's do -----


def handler_modules() -> list[str]:
    """Every module in the handlers package; `_private` ones hold shared code, not handlers."""
    found = pkgutil.iter_modules(trigger_handlers.__path__, "trigger_handlers.")
    return sorted(m.name for m in found if not m.name.rpartition(".")[2].startswith("_"))


def rule_problems() -> list[str]:
    """Modules the registry would not serve: each declares one handler, for the trigger whose module
    it is by the rule."""
    problems = []
    for module in handler_modules():
        importlib.import_module(module)
        declared = sorted(declared_handlers(module))
        if len(declared) != 1:
            problems.append(f"{module} declares {len(declared)} handlers: {declared}")
        elif REGISTRY.module_for(declared[0]) != module:
            problems.append(
                f"{module} declares {declared[0]}, whose module is {REGISTRY.module_for(declared[0])}"
            )
    return problems


def foreign_imports() -> list[tuple[str, set[str]]]:
    """Handler modules importing models of more than one module: a template is a starting point and
    must not drag in other triggers' models or handlers."""
    found = []
    for module_name in handler_modules():
        module = importlib.import_module(module_name)
        imported = {
            value.__module__
            for value in vars(module).values()
            if isinstance(value, type) and value.__module__.startswith("idn_triggers.models")
        }
        if len(imported) > 1:
            found.append((module_name, imported))
    return found


def test_every_catalogue_trigger_has_a_template() -> None:
    assert [t for t in TRIGGERS if not REGISTRY.has_handler(t)] == []


def test_every_handler_module_handles_the_trigger_it_is_named_after() -> None:
    assert rule_problems() == []


def test_templates_import_only_the_library_and_their_model() -> None:
    assert foreign_imports() == []


@pytest.fixture
def users_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory whose modules count as `trigger_handlers` modules, as if the user had added them."""
    monkeypatch.setattr(trigger_handlers, "__path__", [*trigger_handlers.__path__, str(tmp_path)])
    importlib.invalidate_caches()
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("trigger_handlers.users_")]:
        del sys.modules[name]


def test_a_new_module_written_as_the_docs_say_passes_the_checks_and_is_served(users_modules: Path) -> None:
    # Given a handler for an EXTRA_TRIGGERS id, in a module named after it, and nothing else
    suffix = uuid.uuid4().hex[:8]  # handler declarations are process-wide: unique per run
    trigger_id = f"idn:users-new-trigger-{suffix}"
    (users_modules / f"users_new_trigger_{suffix}.py").write_text(
        "from idn_triggers.handlers import HandlerContext, trigger_handler\n"
        "from idn_triggers.models.generic import GenericTriggerEvent\n"
        "from idn_triggers.summaries import summarise\n\n\n"
        f"@trigger_handler({trigger_id!r})\n"
        "def on_new(event: GenericTriggerEvent, context: HandlerContext) -> None:\n"
        '    summarise(context, "created", "THING", None)\n',
        encoding="utf-8",
    )
    importlib.invalidate_caches()
    # Then the package checks above pass with it
    assert f"trigger_handlers.users_new_trigger_{suffix}" in handler_modules()
    assert rule_problems() == []
    assert foreign_imports() == []
    # And the registry serves it
    found = REGISTRY.get(trigger_id)
    assert found is not None and found.input_model is GenericTriggerEvent


def test_a_module_named_after_another_trigger_fails_the_checks(users_modules: Path) -> None:
    # A copied template whose decorator still names the original trigger is never served: say so
    source = (ROOT / "layers" / "trigger_handlers" / "trigger_handlers" / "identity_deleted.py").read_text()
    (users_modules / "users_identity_deleted_copy.py").write_text(source, encoding="utf-8")
    importlib.invalidate_caches()
    assert rule_problems() == [
        "trigger_handlers.users_identity_deleted_copy declares idn:identity-deleted, "
        "whose module is trigger_handlers.identity_deleted"
    ]


@pytest.mark.parametrize("trigger_id", TRIGGERS)
def test_template_is_typed_with_the_catalogue_models(trigger_id: str) -> None:
    info = known_triggers()[trigger_id]
    found = handler(trigger_id)
    assert found.input_model is info.load_input_model()
    assert found.output_model is info.load_output_model()


# --- fire-and-forget templates ------------------------------------------------------------------

# Keys whose values are personal or sensitive: names, emails, free text, native ids (DNs), URLs.
PII_KEYS = frozenset(
    {
        "name", "displayName", "identityDisplayName", "identityName", "ownerName", "approverName",
        "email", "ownerEmail", "alias", "comment", "comments", "approvalComment", "description",
        "message", "errorMessage", "errors", "warnings", "nativeIdentity", "nativeIdentifier",
        "accountId", "value", "sourceName", "sources", "signedS3Url", "query", "searchName",
        "fileName", "businessApplication", "provisioningTarget",
    }
)  # fmt: skip
# Subtrees that are attribute values or form answers.
PII_SUBTREES = frozenset(
    {"attributes", "formData", "oldValue", "newValue", "addedValues", "removedValues", "attributeValue"}
)
# In these lists `name` is an attribute's name, which summaries may log.
ATTRIBUTE_NAME_LISTS = frozenset({"singleValueAttributeChanges", "multiValueAttributeChanges"})


def strings(node: Any, key: str = "", in_list: str = "", pii: bool = False) -> Iterator[tuple[str, bool]]:
    """(string value, is personal data) for every string in a payload."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from strings(k, "", "", False)
            sensitive = k in PII_SUBTREES or (k in PII_KEYS and not (k == "name" and in_list))
            yield from strings(v, k, "", pii or sensitive)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item, key, key if key in ATTRIBUTE_NAME_LISTS else "", pii)
    elif isinstance(node, str):
        yield node, pii


def personal_strings(data: dict[str, Any]) -> set[str]:
    found = list(strings(data))
    public = {value for value, pii in found if not pii}
    # Short strings and "true"/"false" would match unrelated log text (JSON booleans, ids).
    common = {"true", "false"}
    return {v for v, pii in found if pii and v not in public and len(v) >= 4 and v.lower() not in common}


def test_personal_strings_finds_names_values_and_urls_but_not_ids() -> None:
    found = personal_strings(example("idn:account-updated"))
    assert {"john.doe@gmail.com", "John Doe", "CN=John Doe,OU=Users,DC=acme,DC=com", "Admin group"} <= found
    assert not {"acc-789", "ACCOUNT_UPDATED_V2", "memberOf", "email"} & found


@pytest.mark.parametrize(("trigger_id", "key"), EXAMPLES)
def test_template_logs_one_pii_free_summary_of_the_event(
    trigger_id: str, key: str, logs: io.StringIO
) -> None:
    data = example(trigger_id, key)
    assert run(trigger_id, data) is None
    [line] = summaries(logs)
    summary = line["summary"]
    assert summary["trigger_id"] == trigger_id
    ids = {value for value, _ in strings(data)}
    assert summary["subject"]["id"] is None or summary["subject"]["id"] in ids
    text = logs.getvalue()
    leaked = sorted(s for s in personal_strings(data) if s in text)
    assert leaked == []


def test_aggregation_failure_is_a_warning(logs: io.StringIO) -> None:
    data = example("idn:account-aggregation-completed", "exampleInputFromSpecSchema")
    data.update(status="Failed", errors=None)
    run("idn:account-aggregation-completed", data)
    data.update(status="Success")
    run("idn:account-aggregation-completed", data)
    assert [line["level"] for line in summaries(logs)] == ["WARNING", "INFO"]


def test_post_approval_outcome_counts_denied_items(logs: io.StringIO) -> None:
    data = example("idn:access-request-post-approval")
    approved = data["requestedItemsStatus"][0]
    denied = copy.deepcopy(approved) | {"id": "item-2", "approvalInfo": [{"approvalDecision": "DENIED"}]}
    data["requestedItemsStatus"].append(denied)
    run("idn:access-request-post-approval", data)
    [line] = summaries(logs)
    assert line["summary"]["labels"] == {"outcome": "PARTIALLY_APPROVED"}
    assert line["summary"]["counts"]["denied_items"] == 1


@pytest.mark.parametrize(("attribute", "mover"), [("department", True), ("phone", False)])
def test_identity_change_flags_movers(attribute: str, mover: bool, logs: io.StringIO) -> None:
    data = example("idn:identity-attributes-changed")
    data["changes"][0]["attribute"] = attribute
    run("idn:identity-attributes-changed", data)
    [line] = summaries(logs)
    assert line["summary"]["labels"]["mover"] is mover
    assert line["summary"]["attributes"] == [attribute]


@pytest.mark.parametrize(("threshold", "level"), [("0.9", "INFO"), ("0.5", "WARNING")])
def test_outlier_alert_score_is_configurable(
    threshold: str, level: str, monkeypatch: pytest.MonkeyPatch, logs: io.StringIO
) -> None:
    monkeypatch.setenv("OUTLIER_ALERT_SCORE", threshold)
    outlier_detected.settings.cache_clear()
    run("idn:outlier-detected", example("idn:outlier-detected"))  # score 0.82
    outlier_detected.settings.cache_clear()
    assert [line["level"] for line in summaries(logs)] == [level]


def test_native_change_granting_entitlements_is_a_warning(logs: io.StringIO) -> None:
    data = example("idn:native-change-account-updated")
    run("idn:native-change-account-updated", data)
    for change in data["entitlementChanges"]:
        change["added"] = []
    run("idn:native-change-account-updated", data)
    assert [line["level"] for line in summaries(logs)] == ["WARNING", "INFO"]


def test_va_cluster_going_down_is_a_warning(logs: io.StringIO) -> None:
    data = example("idn:va-cluster-status-change")
    data["healthCheckResult"]["status"] = "Failed"
    run("idn:va-cluster-status-change", data)
    [line] = summaries(logs)
    assert (line["level"], line["summary"]["operation"]) == ("WARNING", "degraded")


def test_saved_search_never_logs_its_download_link(logs: io.StringIO) -> None:
    data = example("idn:saved-search-complete")
    run("idn:saved-search-complete", data)
    assert "X-Amz-Signature" not in logs.getvalue()
    assert summaries(logs)[0]["summary"]["counts"] == {"Account": 3, "Entitlement": 2, "Identity": 2}


# --- the summary helper -------------------------------------------------------------------------

CONTEXT = HandlerContext("idn:x", ResponseMode.ASYNC, "inv-1")


def test_summary_leaves_out_empty_parts_and_repeats_no_attribute() -> None:
    summary = EventSummary("idn:x", "updated", "IDENTITY", "id-1", attributes=("a",))
    assert summary.as_dict() == {
        "trigger_id": "idn:x",
        "operation": "updated",
        "subject": {"type": "IDENTITY", "id": "id-1"},
        "attributes": ["a"],
    }


def test_related_references_are_logged_by_id_only(logs: io.StringIO) -> None:
    source = Ref(id="s-1", type="SOURCE", name="Corporate Directory")
    summary = summarise(CONTEXT, "updated", "ACCOUNT", "a-1", related={"source": source, "identity": None})
    assert summary.related == {"source": "s-1", "identity": None}
    assert "Corporate Directory" not in logs.getvalue()


def test_summarise_logs_at_the_callers_location(logs: io.StringIO) -> None:
    returned = summarise(CONTEXT, "deleted", "SOURCE", "s-1", attributes=["b", "a", "b"], level="WARNING")
    [line] = summaries(logs)
    assert line["level"] == "WARNING" and line["summary"] == returned.as_dict()
    assert returned.attributes == ("b", "a") and returned.trigger_id == "idn:x"  # from the context
    assert line["location"].startswith("test_summarise_logs_at_the_callers_location")


# --- request-response templates -----------------------------------------------------------------

PRE, DYN = "idn:access-request-pre-approval", "idn:access-request-dynamic-approver"
RR_CASES = [
    (PRE, {}),
    (PRE, {"PREAPPROVAL_DENIED_ITEMS": "Engineering Access"}),
    (DYN, {}),
    (DYN, {"DYNAMIC_APPROVER_RULES": '{"*": {"id": "g-1", "name": "Owners", "type": "GOVERNANCE_GROUP"}}'}),
]


@pytest.mark.parametrize("key", ["exampleInput", "exampleInputFromSpecSchema"])
@pytest.mark.parametrize(("trigger_id", "env"), RR_CASES)
def test_request_response_answers_validate_against_the_output_schema(
    trigger_id: str, env: dict[str, str], key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pre.settings.cache_clear()
    dynamic.settings.cache_clear()
    answer = run(trigger_id, example(trigger_id, key))
    pre.settings.cache_clear()
    dynamic.settings.cache_clear()
    # What SailPoint receives: the answer as JSON; "no approver" in the documented empty-object form
    # (outputSchemaWebhookVariant says to send empty values, which the v1 schema's enum refuses).
    sent = None if answer is None else answer.model_dump(mode="json", by_alias=True)
    nobody = sent == DynamicApprover.NONE_ANSWER
    if not nobody:
        jsonschema.validate(sent, trigger_document(trigger_id)["outputSchema"])
    assert nobody == (trigger_id == DYN and not env)
