"""The contract every handler in `layers/trigger_handlers` keeps, whoever wrote it.

These tests hold for any handler a user writes (they assert no template's decision or wording):
- each module handles the trigger it is named after (the rule the receiver and worker find it by);
- for every catalogue example of its trigger, a delivery through the receiver and the worker (the
  testing kit, `idn_local.testing`) is accepted and ends with an answer of the right type that
  validates against the trigger's published output schema;
- no payload value (names, emails, attribute values...) reaches a log line.
Your handler's own behaviour is tested beside your handlers, in handler_tests/.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import trigger_handlers
from idn_local.testing import Outcome, deliver, examples
from idn_triggers.catalogue import known_triggers, trigger_document
from idn_triggers.handlers import HandlerRegistry, declared_handlers
from idn_triggers.models.access_request import DynamicApprover
from idn_triggers.models.generic import GenericTriggerEvent
from trigger_handlers import HANDLER_EXCEPTIONS

REGISTRY = HandlerRegistry("trigger_handlers", HANDLER_EXCEPTIONS)
HANDLED = sorted(t for t in known_triggers() if REGISTRY.has_handler(t))
CASES = [(t, n) for t in HANDLED for n in range(len(examples(t)))]


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


def test_every_handler_module_handles_the_trigger_it_is_named_after() -> None:
    assert rule_problems() == []


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
    # Then the package check above passes with it
    assert f"trigger_handlers.users_new_trigger_{suffix}" in handler_modules()
    assert rule_problems() == []
    # And the registry serves it
    found = REGISTRY.get(trigger_id)
    assert found is not None and found.input_model is GenericTriggerEvent


def test_a_module_named_after_another_trigger_fails_the_checks(users_modules: Path) -> None:
    # A copied handler whose decorator still names the original trigger is never served: say so
    (users_modules / "users_identity_deleted_copy.py").write_text(
        "from idn_triggers.handlers import trigger_handler\n"
        "from idn_triggers.models.generic import GenericTriggerEvent\n\n\n"
        '@trigger_handler("idn:identity-deleted")\n'
        "def on_deleted(event: GenericTriggerEvent) -> None:\n"
        "    pass\n",
        encoding="utf-8",
    )
    importlib.invalidate_caches()
    problems = [p for p in rule_problems() if "users_" in p]
    assert problems == [
        "trigger_handlers.users_identity_deleted_copy declares idn:identity-deleted, "
        "whose module is trigger_handlers.identity_deleted"
    ]


# --- every catalogue example, delivered as SailPoint would ---------------------------------------


def assert_answer_validates(outcome: Outcome) -> None:
    """A request-response answer SailPoint accepts: the output schema, or the documented "nobody"."""
    assert outcome.status == 200, (outcome.status, outcome.body)
    assert outcome.error is None
    if outcome.answer == DynamicApprover.NONE_ANSWER and outcome.trigger_id.endswith("dynamic-approver"):
        return  # outputSchemaWebhookVariant's empty object, which the v1 schema's enum refuses
    jsonschema.validate(outcome.answer, trigger_document(outcome.trigger_id)["outputSchema"])


@pytest.mark.parametrize(("trigger_id", "example"), CASES)
def test_every_catalogue_example_is_accepted_and_answered_as_its_trigger_requires(
    trigger_id: str, example: int
) -> None:
    if not known_triggers()[trigger_id].is_request_response:
        outcome = deliver(trigger_id, example=example)
        assert (outcome.status, outcome.body) == (200, {})
        assert outcome.worker_outcomes == ("processed",), outcome.logs  # the handler ran, and ended well
        return
    for mode in ("SYNC", "ASYNC", "DYNAMIC"):
        outcome = deliver(trigger_id, example=example, mode=mode)
        assert_answer_validates(outcome)


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
    found = personal_strings(examples("idn:account-updated")[0])
    assert {"john.doe@gmail.com", "John Doe", "CN=John Doe,OU=Users,DC=acme,DC=com", "Admin group"} <= found
    assert not {"acc-789", "ACCOUNT_UPDATED_V2", "memberOf", "email"} & found


@pytest.mark.parametrize(("trigger_id", "example"), CASES)
def test_no_payload_value_reaches_a_log_line(trigger_id: str, example: int) -> None:
    mode = "ASYNC" if known_triggers()[trigger_id].is_request_response else None  # receiver and worker
    outcome = deliver(trigger_id, example=example, mode=mode)
    assert outcome.logs  # the delivery was logged (and captured)
    leaked = sorted(s for s in personal_strings(examples(trigger_id)[example]) if s in outcome.logs)
    assert leaked == []


def test_the_contract_catches_a_handler_that_logs_payload_values(users_modules: Path) -> None:
    # Given a handler that logs a person's name
    suffix = uuid.uuid4().hex[:8]
    trigger_id = f"idn:users-leaky-{suffix}"
    (users_modules / f"users_leaky_{suffix}.py").write_text(
        "from aws_lambda_powertools import Logger\n"
        "from idn_triggers.handlers import trigger_handler\n"
        "from idn_triggers.models.generic import GenericTriggerEvent\n\n"
        "logger = Logger()\n\n\n"
        f"@trigger_handler({trigger_id!r})\n"
        "def on_it(event: GenericTriggerEvent) -> None:\n"
        '    logger.info("seen", extra={"who": event.payload["displayName"]})\n',
        encoding="utf-8",
    )
    importlib.invalidate_caches()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EXTRA_TRIGGERS", f"{trigger_id}=FIRE_AND_FORGET")
        outcome = deliver(trigger_id, payload={"displayName": "Jane Q. Public"})
    # Then the check above finds it
    assert outcome.worker_outcomes == ("processed",)
    assert sorted(s for s in personal_strings({"displayName": "Jane Q. Public"}) if s in outcome.logs) == [
        "Jane Q. Public"
    ]
