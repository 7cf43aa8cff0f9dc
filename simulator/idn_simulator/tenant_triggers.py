"""The simulated tenant's triggers: the 42 catalogue documents shipped in ``idn_triggers``.

Read once, from the layer package's data directory (never from the shared design folder), and
served in the spec's Trigger shape: ``inputSchema``/``outputSchema`` as JSON *strings*,
``exampleInput``/``exampleOutput`` as objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from idn_triggers.catalogue import DATA_DIR

if TYPE_CHECKING:
    from jsonschema import Draft7Validator

REQUEST_RESPONSE = "REQUEST_RESPONSE"
FIRE_AND_FORGET = "FIRE_AND_FORGET"


@dataclass(frozen=True, slots=True)
class TriggerDef:
    """One trigger as the tenant knows it."""

    id: str
    name: str
    type: str
    input_schema: dict[str, Any] | None
    output_schema: dict[str, Any] | None
    example_input: dict[str, Any] | None
    example_output: Any
    _validator: Draft7Validator | None = field(default=None, repr=False, compare=False)
    # The documented "nothing to add" answer, e.g. dynamic approver's {"id": "", "name": "", "type": ""}:
    # the newest published schema variant tells to send empty values, which its own enum forbids.
    empty_answer: dict[str, str] | None = None

    @property
    def is_request_response(self) -> bool:
        return self.type == REQUEST_RESPONSE

    def api_view(self) -> dict[str, Any]:
        """The spec's Trigger object; schemas are JSON strings there."""
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "inputSchema": json.dumps(self.input_schema or {}, separators=(",", ":")),
            # exampleInput is required by the spec; three catalogue triggers have none.
            "exampleInput": self.example_input if self.example_input is not None else {},
            "outputSchema": (
                json.dumps(self.output_schema, separators=(",", ":")) if self.output_schema else None
            ),
            "exampleOutput": self.example_output,
        }

    def output_problems(self, output: Any, where: str = "$.output") -> list[str]:
        """Why ``output`` breaks the output schema, one line per problem, naming its JSON path.

        Messages name paths and constraints, never the offending values (they may be PII).
        """
        if self._validator is None or (self.empty_answer is not None and output == self.empty_answer):
            return []
        problems: list[str] = []
        errors = sorted(self._validator.iter_errors(output), key=lambda e: list(e.absolute_path))
        for error in errors:
            path = where + str(error.json_path)[1:]
            if error.validator == "required" and isinstance(error.instance, dict):
                for name in error.validator_value:
                    if name not in error.instance:
                        problems.append(f"{path}.{name}: required property is missing")
            elif error.validator == "type":
                problems.append(f"{path}: must be of type {json.dumps(error.validator_value)}")
            elif error.validator == "enum":
                problems.append(f"{path}: must be one of {json.dumps(error.validator_value)}")
            else:
                problems.append(f"{path}: fails the '{error.validator}' constraint")
        return list(dict.fromkeys(problems))  # one entry per problem, in path order


class TenantTriggers:
    """All triggers by id, in catalogue order."""

    def __init__(self, triggers: Iterable[TriggerDef]) -> None:
        self._triggers = {trigger.id: trigger for trigger in triggers}

    @classmethod
    def load(cls, directory: Path | None = None) -> TenantTriggers:
        """Read index.json and every trigger document it lists."""
        from jsonschema import Draft7Validator  # the "simulator" extra; checked by the entry points

        directory = directory or DATA_DIR
        index = json.loads((directory / "index.json").read_text(encoding="utf-8"))
        triggers = []
        for entry in index["triggers"]:
            document = json.loads((directory / entry["file"]).read_text(encoding="utf-8"))
            output_schema = document.get("outputSchema")
            triggers.append(
                TriggerDef(
                    id=document["id"],
                    name=document["name"],
                    type=document["type"],
                    input_schema=document.get("inputSchema"),
                    output_schema=output_schema,
                    example_input=document.get("exampleInput"),
                    example_output=document.get("exampleOutput"),
                    _validator=Draft7Validator(output_schema) if output_schema else None,
                    empty_answer=_empty_answer(document.get("outputSchemaWebhookVariant")),
                )
            )
        return cls(triggers)

    def get(self, trigger_id: str) -> TriggerDef | None:
        return self._triggers.get(trigger_id)

    def all(self) -> list[TriggerDef]:
        return list(self._triggers.values())

    def __len__(self) -> int:
        return len(self._triggers)


def _empty_answer(variant: Any) -> dict[str, str] | None:
    """{field: ""} when every field of the published schema variant says to send an empty value
    when there is none (the dynamic approver's "no extra approver"); None otherwise."""
    properties = (variant or {}).get("properties") if isinstance(variant, dict) else None
    if not properties:
        return None
    documented = all(
        "send an empty value" in str(spec.get("description", "")) for spec in properties.values()
    )
    return dict.fromkeys(properties, "") if documented else None
