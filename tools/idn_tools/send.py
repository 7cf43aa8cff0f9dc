"""`idn-triggers send`: fire a trigger at your subscriptions as SailPoint does, and show what came of it.

It starts a test invocation through the tenant's API (under `make run`, the simulator, which POSTs
to the local receiver; a real tenant's test invocation works the same), with a catalogue example,
a JSON file or stdin as input, then (with `--wait`) polls the invocation status and prints each
outcome: completed with the answer, or failed with the reason (e.g. "subscriber answered 400"), or
still pending. `invoke-test --wait` prints the same.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from idn_triggers.catalogue import trigger_document
from idn_triggers.sailpoint_api import SailPointClient

EXAMPLE_KEYS = ("exampleInput", "exampleInputFromSpecSchema")
DEFAULT_WAIT_SECONDS = 15.0
POLL_SECONDS = 0.2


def event_input(trigger_id: str, source: str | None, example: int | None) -> Any:
    """What to send: the JSON in `source` (a file, or `-` for stdin), else catalogue example
    `example`, else None (the tenant sends the trigger's own example)."""
    from idn_tools.tenant_support import UsageError, read_json

    if source is not None and example is not None:
        raise UsageError("give --input or --example, not both")
    if source == "-":
        try:
            return json.loads(sys.stdin.read())
        except ValueError as error:
            raise UsageError(f"cannot read JSON from stdin: {error}") from None
    if source is not None:
        return read_json(source)
    if example is None:
        return None
    document = trigger_document(trigger_id)
    found = [document[key] for key in EXAMPLE_KEYS if isinstance(document.get(key), dict)]
    if not 0 <= example < len(found):
        raise UsageError(
            f"{trigger_id} has {len(found)} catalogue example(s): --example 0 to {len(found) - 1}"
        )
    return found[example]


def wait_for(
    api: SailPointClient, trigger_id: str, ids: list[str], seconds: float
) -> dict[str, dict[str, Any] | None]:
    """Each invocation's status once completed (None if still pending after `seconds`)."""
    found: dict[str, dict[str, Any] | None] = dict.fromkeys(ids)
    deadline = time.monotonic() + seconds
    while True:
        for status in api.invocation_statuses(trigger_id):
            if status.get("id") in found and status.get("completed"):
                found[str(status["id"])] = status
        if all(found.values()) or time.monotonic() >= deadline:
            return found
        time.sleep(POLL_SECONDS)


def outcome(status: dict[str, Any] | None) -> dict[str, Any]:
    """One invocation's outcome as SailPoint records it."""
    if status is None:
        return {"outcome": "pending", "detail": "not completed within the wait"}
    completion = status.get("completeInvocationInput") or {}
    error = (completion.get("localizedError") or {}).get("message")
    if error:
        return {"outcome": "failed", "detail": str(error)}
    return {"outcome": "completed", "detail": completion.get("output")}


def report(args: argparse.Namespace, api: SailPointClient, trigger_id: str, ids: list[str]) -> int:
    """Wait for the invocations, print their outcomes; exit 0 only if every one completed."""
    from idn_tools.tenant_support import CHECK_FAILED, OK, emit

    outcomes = [
        {"invocation": invocation, **outcome(status)}
        for invocation, status in wait_for(api, trigger_id, ids, args.wait).items()
    ]
    rows = [
        (
            o["invocation"],
            o["outcome"],
            json.dumps(o["detail"]) if o["outcome"] == "completed" else o["detail"],
        )
        for o in outcomes
    ]
    emit(args, {"outcomes": outcomes}, rows, ("invocation", "outcome", "answer or reason"))
    return OK if all(o["outcome"] == "completed" for o in outcomes) else CHECK_FAILED


def cmd_send(args: argparse.Namespace) -> int:
    from idn_tools.tenant_support import OK, check_trigger, client, emit

    trigger_id = check_trigger(args.trigger)
    payload = event_input(trigger_id, args.input, args.example)
    api = client(args)
    started = api.test_invocation(trigger_id, payload, [args.subscription] if args.subscription else None)
    ids = [str(i["id"]) for i in (started if isinstance(started, list) else []) if i.get("id")]
    if not ids:  # the tenant answers 204: no subscription received it
        print(f"note: nothing was sent: no subscription to {trigger_id} received it", file=sys.stderr)
        return OK
    if args.wait is None:
        emit(args, {"started": ids}, [(i, trigger_id) for i in ids], ("invocation", "trigger"))
        return OK
    return report(args, api, trigger_id, ids)


def add_wait_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        nargs="?",
        type=float,
        const=DEFAULT_WAIT_SECONDS,
        metavar="SECONDS",
        help=f"wait for the outcome (default {DEFAULT_WAIT_SECONDS:.0f} s) and print it; exit 1 unless completed",
    )


def add_send_command(commands: Any) -> None:
    """`send` in `idn-triggers`' command list."""
    send = commands.add_parser("send", help="fire a trigger at its subscriptions as SailPoint does")
    send.add_argument("trigger", help="trigger id, e.g. idn:identity-created")
    source = send.add_mutually_exclusive_group()
    source.add_argument("--input", metavar="FILE", help="JSON input from FILE, or - for stdin")
    source.add_argument("--example", type=int, metavar="N", help="the trigger's catalogue example N (0, 1)")
    send.add_argument(
        "--subscription", metavar="ID", help="only this subscription (default: all of the trigger's)"
    )
    add_wait_argument(send)
    send.set_defaults(run=cmd_send)
