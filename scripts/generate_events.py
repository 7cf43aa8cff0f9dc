"""Write `events/`: API Gateway proxy events for every trigger in the catalogue.

The request-response triggers get one event per credential case (`api/pre-approval.sync.bearer.json`
...); every fire-and-forget trigger gets one SYNC delivery of its example, `api/<id without idn:>.json`
(e.g. `api/identity-created.json`). The body is the catalogue's `exampleInput`, else its
`exampleInputFromSpecSchema`, else a placeholder built from the input schema (the CIEM triggers,
for which SailPoint publishes no example).

The request-response triggers also get their ASYNC and DYNAMIC deliveries, with SailPoint's
`_metadata` (`api/pre-approval.async.bearer.json`, `api/pre-approval.dynamic.bearer.json`, ...), and
the worker gets SQS events in Lambda's record shape (`sqs/`): the message the receiver queues for each
ASYNC delivery, one fire-and-forget message, and a batch with a poison record. Their times are fixed
(received 2026-11-27T12:00:00Z, deadline PT1H later), so a request-response message read after its
deadline is dead-lettered as expired: refresh `deadline` in the body (and point the worker at a
tenant it can reach) to see it completed.

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
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from idn_local.gateway_events import proxy_event
from idn_triggers.catalogue import TriggerType, known_triggers, trigger_document
from idn_triggers.envelope import split_envelope
from idn_triggers.queue import QueuedInvocation, queued_invocation

EVENTS = Path(__file__).resolve().parent.parent / "events"
LOCAL_BEARER_TOKEN = "local-dev-bearer-token"  # noqa: S105 - local test credential, see events/README.md
LOCAL_BASIC_USER, LOCAL_BASIC_PASSWORD = "sailpoint", "local-dev-password"
SHORT_NAMES = {
    "idn:access-request-pre-approval": "pre-approval",
    "idn:access-request-dynamic-approver": "dynamic-approver",
}
BEARER = f"Bearer {LOCAL_BEARER_TOKEN}"
BASIC = "Basic " + base64.b64encode(f"{LOCAL_BASIC_USER}:{LOCAL_BASIC_PASSWORD}".encode()).decode()
TENANT_API_URL = "https://acme.api.identitynow.com"
LOCAL_CALLBACK_SECRET = "local-dev-callback-secret"  # noqa: S105 - local test value, see events/README.md
RECEIVED_AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
RESPONSE_DEADLINE = timedelta(hours=1)  # the subscriptions' default responseDeadline, PT1H
WORK_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:sailpoint-event-triggers-work"
FIRE_AND_FORGET_EXAMPLE = "idn:identity-created"
POISON_BODY = "this is not a QueuedInvocation"


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


def fixed_id(name: str) -> str:
    """A stable UUID per name, so regenerated files do not change."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://github.com/idn-event-triggers/events/{name}"))


def deferred_delivery(trigger_id: str, mode: str) -> dict[str, Any]:
    """The trigger's example as SailPoint delivers it to an ASYNC or DYNAMIC subscription."""
    invocation_id = fixed_id(f"{trigger_id}/{mode}")
    return {
        **trigger_document(trigger_id)["exampleInput"],
        "_metadata": {
            "callbackURL": f"{TENANT_API_URL}/trigger-invocations/v1/{invocation_id}/complete",
            "secret": LOCAL_CALLBACK_SECRET,
            "responseMode": mode,
            "triggerId": trigger_id,
            "triggerType": "requestResponse",
        },
    }


def queued(trigger_id: str, body: dict[str, Any], trigger_type: TriggerType) -> QueuedInvocation:
    """The message the receiver queues for `body`, received at RECEIVED_AT. The trigger's sample
    payload gets a fresh id per delivery (see `idn_triggers.queue.sample_event_id`): a fixed one here,
    so the files do not change from one generation to the next."""
    message = queued_invocation(
        split_envelope(trigger_id, body), trigger_type, RESPONSE_DEADLINE, now=RECEIVED_AT
    )
    if message.invocation_id.startswith("sample-"):
        fixed = f"sample-{fixed_id(f'sample/{trigger_id}')}"
        message = message.model_copy(
            update={"invocation_id": fixed, "idempotency_key": f"{trigger_id}#{fixed}"}
        )
    return message


def sqs_record(name: str, body: str, message: QueuedInvocation | None = None) -> dict[str, Any]:
    """One record as Lambda's SQS event source mapping delivers it (see
    `sam local generate-event sqs receive-message`), with the receiver's message attributes."""
    sent = int(RECEIVED_AT.timestamp() * 1000)
    attributes = message.lambda_record_attributes() if message is not None else {}
    return {
        "messageId": fixed_id(f"sqs/{name}"),
        "receiptHandle": f"AQEBlocalReceiptHandle/{name}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(sent),
            "SenderId": "AROAEXAMPLEROLEID00000:sailpoint-event-triggers-receiver",
            "ApproximateFirstReceiveTimestamp": str(sent + 5),
        },
        "messageAttributes": attributes,
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": WORK_QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def queued_record(name: str, message: QueuedInvocation) -> dict[str, Any]:
    return sqs_record(name, message.model_dump_json(), message)


def deferred_and_queued_events() -> dict[str, dict[str, Any]]:
    """ASYNC and DYNAMIC deliveries at the receiver, and SQS events for the worker."""
    events: dict[str, dict[str, Any]] = {}
    for trigger_id, short in SHORT_NAMES.items():
        for mode in ("async", "dynamic"):
            body = json.dumps(deferred_delivery(trigger_id, mode), indent=2)
            events[f"api/{short}.{mode}.bearer.json"] = api_event(trigger_id, body, BEARER)
        message = queued(trigger_id, deferred_delivery(trigger_id, "async"), TriggerType.REQUEST_RESPONSE)
        events[f"sqs/{short}.async.json"] = {"Records": [queued_record(f"{short}.async", message)]}
    short = FIRE_AND_FORGET_EXAMPLE.removeprefix("idn:")
    message = queued(
        FIRE_AND_FORGET_EXAMPLE, example_input(FIRE_AND_FORGET_EXAMPLE), TriggerType.FIRE_AND_FORGET
    )
    events[f"sqs/{short}.json"] = {"Records": [queued_record(short, message)]}
    events["sqs/batch-with-poison.json"] = {
        "Records": [queued_record(f"batch/{short}", message), sqs_record("batch/poison", POISON_BODY)]
    }
    return events


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
    events.update(deferred_and_queued_events())
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
