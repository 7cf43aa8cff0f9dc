"""Check the trigger models against SailPoint's catalogue data; exit 1 with a report on any problem.

    python scripts/check_models.py                # the catalogue shipped in the library
    python scripts/check_models.py --data DIR     # a fresh export (index.json + one file per trigger)

For every trigger: the catalogue in code names a model for it (and an output model exactly when it
is REQUEST_RESPONSE); every example input (`exampleInput`, `exampleInputFromSpecSchema`) parses;
every field the model requires, at any depth, is required by the input schema or present in every
example (so the model is never stricter than what SailPoint documents); the valid example outputs
parse with the output model and the invalid ones are refused. Ids that have a model but are not in
the catalogue are reported too. The test suite runs this script.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from idn_triggers.catalogue import DATA_DIR, TRIGGER_MODELS, resolve_model
from idn_triggers.models.base import SailPointModel

EXAMPLE_KEYS = ("exampleInput", "exampleInputFromSpecSchema")


def check_coverage(catalogue: Mapping[str, str], models: Mapping[str, tuple[str, str | None]]) -> list[str]:
    """Every catalogue trigger (id -> type) has the right models; no model serves an unknown id."""
    problems = []
    for trigger_id, trigger_type in sorted(catalogue.items()):
        if trigger_id not in models:
            problems.append(f"{trigger_id}: no model in idn_triggers.catalogue.TRIGGER_MODELS")
            continue
        has_output = models[trigger_id][1] is not None
        if has_output != (trigger_type == "REQUEST_RESPONSE"):
            problems.append(
                f"{trigger_id}: is {trigger_type} but {'has' if has_output else 'has no'} output model"
            )
    problems += [
        f"{trigger_id}: has a model but is not in the catalogue"
        for trigger_id in sorted(set(models) - set(catalogue))
    ]
    return problems


def check_trigger(document: Mapping[str, Any], input_path: str, output_path: str | None) -> list[str]:
    """All problems of one trigger's models against its catalogue document."""
    trigger_id = document["id"]
    try:
        input_model = resolve_model(input_path)
        output_model = resolve_model(output_path) if output_path else None
    except (ImportError, AttributeError, TypeError) as error:
        return [f"{trigger_id}: cannot load its model: {error}"]
    if not issubclass(input_model, SailPointModel):
        return [f"{trigger_id}: {input_path} does not derive from SailPointModel"]
    examples = [document[key] for key in EXAMPLE_KEYS if isinstance(document.get(key), dict)]
    problems = [
        f"{trigger_id}: {key} does not parse with {input_model.__name__}: {reason}"
        for key in EXAMPLE_KEYS
        if isinstance(document.get(key), dict)
        for reason in _parse_errors(input_model, document[key])
    ]
    schema = document.get("inputSchema") or {}
    problems += [
        f"{trigger_id}: {input_model.__name__} requires {path}, which the input schema does not require "
        "and an example lacks"
        for path in _too_strict(input_model, schema, schema, examples, "")
    ]
    if output_model is not None:
        problems += _check_outputs(trigger_id, output_model, document)
    return problems


def _parse_errors(model: type[BaseModel], data: Any) -> list[str]:
    try:
        model.model_validate(data)
    except ValidationError as error:
        return [f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in error.errors()]
    return []


def _check_outputs(trigger_id: str, model: type[BaseModel], document: Mapping[str, Any]) -> list[str]:
    outputs = document.get("exampleOutputsAll") or [document.get("exampleOutput")]
    verdicts = document.get("exampleOutputsAllValidation") or [True] * len(outputs)
    problems = []
    for number, (output, verdict) in enumerate(zip(outputs, verdicts, strict=True)):
        errors = _parse_errors(model, output)
        if verdict is True and errors:
            problems.append(f"{trigger_id}: valid example output {number} is refused: {errors[0]}")
        # A model's documented "nothing" answer (dynamic approver's empty object, which the v1 schema's
        # enum refuses but the newest published variant tells to send) is accepted on purpose.
        if verdict is not True and not errors and output != getattr(model, "NONE_ANSWER", None):
            problems.append(f"{trigger_id}: example output {number} fails the output schema but is accepted")
    return problems


def _schema_view(node: Any, root: Mapping[str, Any]) -> tuple[dict[str, Any], set[str], Any]:
    """(properties, required, items) of a schema node, through `$ref`, `allOf` and `anyOf`/`oneOf`."""
    if not isinstance(node, dict):
        return {}, set(), None
    if "$ref" in node:
        target: Any = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return _schema_view({**target, **{k: v for k, v in node.items() if k != "$ref"}}, root)
    properties = dict(node.get("properties") or {})
    required = set(node.get("required") or ())
    items = node.get("items")
    for part in node.get("allOf") or ():
        sub_properties, sub_required, sub_items = _schema_view(part, root)
        properties.update(sub_properties)
        required |= sub_required
        items = items or sub_items
    for key in ("anyOf", "oneOf"):
        views = [_schema_view(part, root) for part in node.get(key) or ()]
        for sub_properties, _, sub_items in views:
            properties.update(sub_properties)
            items = items or sub_items
        if views:  # required by every alternative
            required |= set.intersection(*(view[1] for view in views))
    return properties, required, items


def _nested_model(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """The model inside a field's annotation and how it is held: 'one', 'list' or 'dict'."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _nested_model(arguments[0])
    shape, inner = {list: ("list", arguments[:1]), dict: ("dict", arguments[1:])}.get(origin, ("one", ()))
    if origin in (typing.Union, types.UnionType):
        inner = arguments
    for argument in inner:
        model, inner_shape = _nested_model(argument)
        if model is not None:
            return model, inner_shape if shape == "one" else shape
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, "one"
    return None, shape


def _too_strict(
    model: type[BaseModel], schema: Any, root: Mapping[str, Any], examples: Iterable[Any], path: str
) -> list[str]:
    """Paths of fields the model requires although neither the schema nor every example has them."""
    properties, required, _ = _schema_view(schema, root)
    objects = [example for example in examples if isinstance(example, dict)]
    found = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        here = f"{path}.{key}" if path else key
        if field.is_required() and key not in required and not (objects and all(key in o for o in objects)):
            found.append(here)
        nested, shape = _nested_model(field.annotation)
        if nested is None:
            continue
        values = [o[key] for o in objects if o.get(key) is not None]
        sub_schema = properties.get(key)
        if shape == "list":
            values = [v for value in values for v in (value if isinstance(value, list) else [value])]
            sub_schema = _schema_view(sub_schema, root)[2]
            here += "[]"
        elif shape == "dict":
            values = [v for value in values if isinstance(value, dict) for v in value.values()]
            sub_schema = None  # keyed by data (e.g. result kinds); only the examples can tell
        if values or sub_schema is not None:
            found += _too_strict(nested, sub_schema, root, values, here)
    return found


def load_catalogue(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Every trigger document of a catalogue directory, by id."""
    index = json.loads((data_dir / "index.json").read_text(encoding="utf-8"))
    return {
        entry["id"]: json.loads((data_dir / entry["file"]).read_text(encoding="utf-8"))
        for entry in index["triggers"]
    }


def run(
    data_dir: Path = DATA_DIR, models: Mapping[str, tuple[str, str | None]] = TRIGGER_MODELS
) -> list[str]:
    documents = load_catalogue(data_dir)
    problems = check_coverage({tid: doc["type"] for tid, doc in documents.items()}, models)
    for trigger_id, document in sorted(documents.items()):
        if trigger_id in models:
            problems += check_trigger(document, *models[trigger_id])
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="catalogue directory (index.json)")
    args = parser.parse_args(argv)
    problems = run(args.data)
    if problems:
        print(f"{len(problems)} problem(s) between the models and {args.data}:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    count = len(load_catalogue(args.data))
    print(f"OK: {count} triggers; every example parses and no model is stricter than its schema")
    return 0


if __name__ == "__main__":
    sys.exit(main())
