"""`idn-triggers-ops triggers status|pause|resume`: hold one trigger's events while its downstream
system is down, and let them go again.

    idn-triggers-ops triggers status [TRIGGER ...]
    idn-triggers-ops triggers pause TRIGGER [--reason TEXT]
    idn-triggers-ops triggers resume TRIGGER [--settle-seconds N] [--to WORK_QUEUE_URL]

A paused trigger's events are held by the worker (kept in the TriggerControlTable, never failed,
with no expiry); other triggers keep flowing. `resume` un-pauses, then re-queues what was held,
oldest first, and once more after the workers' state cache has seen the change (`--settle-seconds`,
default 6), so an event held by a worker that still saw "paused" is not left behind. The worker's
rate limit (TriggerRateLimits) paces the drain. A trigger the circuit breaker paused resumes the
same way. The table comes from `--table-name`, the stack output `TriggerControlTableName`
(`--stack-name`), or, against local mode (`--endpoint-url`), the one `*-TriggerControlTable` there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from idn_tools.cli_support import aws_client_options
from idn_triggers.catalogue import known_triggers
from idn_triggers.queue import QueuedInvocation
from idn_triggers.trigger_control import TriggerControls, TriggerState, drain


class TriggerOpsError(Exception):
    """A usage or configuration problem; the message is the whole explanation."""


def add_parser(commands: Any) -> None:
    group = commands.add_parser(
        "triggers", help="pause, resume and inspect one trigger's processing (events held, not failed)"
    ).add_subparsers(dest="command", required=True, metavar="ACTION")
    status = group.add_parser("status", help="each trigger's state, reason, failures and held events")
    status.add_argument("trigger", nargs="*", help="only these trigger ids")
    pause = group.add_parser("pause", help="hold this trigger's events until resumed")
    pause.add_argument("trigger", help="the trigger id, e.g. idn:identity-attributes-changed")
    pause.add_argument("--reason", default="paused by an operator", help="shown by status")
    resume = group.add_parser("resume", help="un-pause, and re-queue the held events (oldest first)")
    resume.add_argument("trigger", help="the trigger id")
    resume.add_argument(
        "--settle-seconds",
        type=float,
        default=6.0,
        help="wait this long for the workers' state cache, then re-queue again (default 6)",
    )
    resume.add_argument("--to", metavar="URL", help="the work queue's URL (instead of --stack-name)")
    for command in (status, pause, resume):
        command.add_argument("--table-name", help="the TriggerControlTable (instead of --stack-name)")
        command.add_argument("--allow-unknown", action="store_true", help="a trigger id not in the catalogue")


def run(args: argparse.Namespace) -> int:
    """Exit codes: 0 done; 2 usage error. AWS errors are explained by the caller."""
    try:
        return _run(args)
    except TriggerOpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if not (args.table_name or args.stack_name or args.endpoint_url):
        raise TriggerOpsError("give --stack-name, --table-name, or --endpoint-url (local mode)")
    for trigger_id in args.trigger if isinstance(args.trigger, list) else [args.trigger]:
        if trigger_id not in known_triggers() and not args.allow_unknown:
            raise TriggerOpsError(
                f"{trigger_id} is not in the catalogue (`idn-triggers triggers list`); "
                "for a trigger added with ExtraTriggers pass --allow-unknown"
            )
    import boto3

    options = aws_client_options(args.endpoint_url, args.region)
    dynamodb = boto3.client("dynamodb", **options)
    controls = TriggerControls(_table(args, dynamodb, options), client=dynamodb, cache_seconds=0)
    if args.command == "status":
        return _status(args, controls)
    if args.command == "pause":
        controls.pause(args.trigger, args.reason)
        _say(args, {"trigger": args.trigger, "action": "paused", "reason": args.reason})
        return 0
    return _resume(args, controls, boto3.client("sqs", **options))


def _status(args: argparse.Namespace, controls: TriggerControls) -> int:
    states = {s.trigger_id: s for s in controls.known()}
    wanted = args.trigger or sorted(states)
    rows = [_row(states.get(t) or TriggerState(t), controls.held_count(t)) for t in wanted]
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    if not rows:
        print("no trigger has been paused or has failed: every trigger is running")
        return 0
    headers = ("trigger", "state", "held", "failures", "since", "reason")
    table = [headers, *[tuple(str(row[h]) for h in headers) for row in rows]]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    return 0


def _resume(args: argparse.Namespace, controls: TriggerControls, sqs: Any) -> int:
    work_queue = _work_queue(args, sqs)

    def send(body: str) -> None:
        message = QueuedInvocation.model_validate_json(body)
        sqs.send_message(QueueUrl=work_queue, MessageBody=body, MessageAttributes=message.sqs_attributes())

    controls.unpause(args.trigger)
    moved = drain(controls, args.trigger, send)
    if args.settle_seconds > 0:
        time.sleep(args.settle_seconds)
        moved += drain(controls, args.trigger, send)
    _say(args, {"trigger": args.trigger, "action": "resumed", "requeued": moved})
    return 0


def _row(state: TriggerState, held: int) -> dict[str, Any]:
    return {
        "trigger": state.trigger_id,
        "state": "paused" if state.paused else "running",
        "held": held,
        "failures": state.failures,
        "since": state.since or "-",
        "reason": state.reason or "-",
    }


def _say(args: argparse.Namespace, row: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(row))
    elif row["action"] == "paused":
        print(f"paused {row['trigger']}: its events are held until `triggers resume {row['trigger']}`")
    else:
        print(f"resumed {row['trigger']}: {row['requeued']} held event(s) queued again")


def _table(args: argparse.Namespace, dynamodb: Any, options: dict[str, Any]) -> str:
    if args.table_name:
        return str(args.table_name)
    if args.stack_name:
        import boto3

        stacks = boto3.client("cloudformation", **options).describe_stacks(StackName=args.stack_name)[
            "Stacks"
        ]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        if "TriggerControlTableName" not in outputs:
            raise TriggerOpsError(f"stack {args.stack_name} has no output TriggerControlTableName")
        return outputs["TriggerControlTableName"]
    if args.endpoint_url:
        tables = [
            t for t in dynamodb.list_tables().get("TableNames", []) if t.endswith("-TriggerControlTable")
        ]
        if len(tables) != 1:
            raise TriggerOpsError(
                f"found {len(tables)} tables named *-TriggerControlTable; give --table-name"
            )
        return str(tables[0])
    raise TriggerOpsError("give --stack-name, --table-name, or --endpoint-url (local mode)")


def _work_queue(args: argparse.Namespace, sqs: Any) -> str:
    from idn_tools import queues

    if args.to:
        return str(args.to)
    if args.stack_name:
        import boto3

        options = aws_client_options(args.endpoint_url, args.region)
        return queues.stack_queue_urls(boto3.client("cloudformation", **options), args.stack_name)[1]
    try:
        return queues.discovered_queue_urls(sqs)[1]
    except queues.OpsError as error:
        raise TriggerOpsError(str(error)) from None
