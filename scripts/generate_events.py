"""Write `events/`: API Gateway proxy events for every trigger in the catalogue.

The request-response triggers get one event per credential case (`api/pre-approval.sync.bearer.json`
...); every fire-and-forget trigger gets one SYNC delivery of its example, `api/<id without idn:>.json`
(e.g. `api/identity-created.json`). The body is the catalogue's `exampleInput`, else its
`exampleInputFromSpecSchema`, else a placeholder built from the input schema (the CIEM triggers,
for which SailPoint publishes no example).

Run `python scripts/generate_events.py` (or `make events`); `--check` fails if a file is stale, and
the test suite runs that check. Credentials in these events are the local-only values in
`events/README.md`, never real ones.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from idn_local.apigw import proxy_event
from idn_triggers.catalogue import known_triggers, trigger_document

EVENTS = Path(__file__).resolve().parent.parent / "events"
LOCAL_BEARER_TOKEN = "local-dev-bearer-token"  # noqa: S105 - local test credential, see events/README.md
LOCAL_BASIC_USER, LOCAL_BASIC_PASSWORD = "sailpoint", "local-dev-password"
SHORT_NAMES = {
    "idn:access-request-pre-approval": "pre-approval",
    "idn:access-request-dynamic-approver": "dynamic-approver",
}
BEARER = f"Bearer {LOCAL_BEARER_TOKEN}"
BASIC = "Basic " + base64.b64encode(f"{LOCAL_BASIC_USER}:{LOCAL_BASIC_PASSWORD}".encode()).decode()


def api_event(trigger_id: str, body: str, authorization: str | None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "User-Agent": "SailPoint-Event-Triggers"}
    if authorization:
        headers["Authorization"] = authorization
    event = proxy_event(
        method="POST",
        path=f"/triggers/{trigger_id}",
        resource="/triggers/{triggerId}",
        path_parameters={"triggerId": trigger_id},
        headers=headers,
        body=body,
    )
    # Stable files: fixed ids and times instead of fresh ones.
    event["requestContext"].update(
        requestId="00000000-0000-0000-0000-000000000001",
        extendedRequestId="00000000-0000-0000-0000-000000000002",
        requestTime="27/Nov/2026:12:00:00 +0000",
        requestTimeEpoch=1795780800000,
    )
    return event


def placeholder(schema: Any, root: dict[str, Any], name: str = "") -> Any:
    """A deterministic value satisfying `schema`: its first example or enum value, else a stand-in
    (`example-<name>`, a hex id for `...Id` names, a fixed time for dates)."""
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return placeholder(target, root, name)
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
    if schema.get("examples"):
        value = schema["examples"][0]
    elif schema.get("enum"):
        value = next(v for v in schema["enum"] if v is not None)
    elif kind == "object" or "properties" in schema:
        value = {key: placeholder(sub, root, key) for key, sub in (schema.get("properties") or {}).items()}
    elif kind == "array":
        value = [placeholder(schema.get("items"), root, name)]
    else:
        value = _scalar(kind, schema, name)
    return value


def _scalar(kind: str | None, schema: dict[str, Any], name: str) -> Any:
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if schema.get("format") == "date-time" or name.lower() in ("timestamp", "created", "modified"):
        return "2026-01-01T00:00:00Z"
    if name.lower().endswith("id"):
        return hashlib.sha256(name.encode()).hexdigest()[:32]
    return f"example-{name}"


def example_input(trigger_id: str) -> dict[str, Any]:
    """The payload SailPoint documents for a trigger (see the module docstring for the fallbacks)."""
    document = trigger_document(trigger_id)
    for key in ("exampleInput", "exampleInputFromSpecSchema"):
        if isinstance(document.get(key), dict):
            example: dict[str, Any] = document[key]
            return example
    schema = document["inputSchema"]
    generated: dict[str, Any] = placeholder(schema, schema)
    return generated


def all_events() -> dict[str, dict[str, Any]]:
    events: dict[str, dict[str, Any]] = {}
    for trigger_id, short in SHORT_NAMES.items():
        body = json.dumps(trigger_document(trigger_id)["exampleInput"], indent=2)
        events[f"api/{short}.sync.bearer.json"] = api_event(trigger_id, body, BEARER)
        events[f"api/{short}.sync.basic.json"] = api_event(trigger_id, body, BASIC)
        events[f"api/{short}.wrong-credential.json"] = api_event(trigger_id, body, "Bearer not-the-token")
        events[f"api/{short}.no-credential.json"] = api_event(trigger_id, body, None)
        events[f"api/{short}.malformed-json.json"] = api_event(trigger_id, '{"accessRequestId": ', BEARER)
    unknown = '{"hello": "world"}'
    events["api/unknown-trigger.json"] = api_event("idn:no-such-trigger", unknown, BEARER)
    for trigger_id, info in sorted(known_triggers().items()):
        if not info.is_request_response:
            body = json.dumps(example_input(trigger_id), indent=2)
            events[f"api/{trigger_id.removeprefix('idn:')}.json"] = api_event(trigger_id, body, BEARER)
    return events


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="fail if events/ differs from what would be written"
    )
    args = parser.parse_args(argv)
    stale = []
    for name, event in all_events().items():
        path = EVENTS / name
        text = json.dumps(event, indent=2) + "\n"
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale events (run: python scripts/generate_events.py):", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
