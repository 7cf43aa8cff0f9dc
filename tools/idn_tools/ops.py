"""idn-triggers-ops: operate a deployed stack (or local mode): the dead-letter queues (list, redrive),
the delivery archive (events list, show, replay; deliveries tail) and recovery of events SailPoint
could not deliver (recover).

    idn-triggers-ops dlq list    [--events] [--stack-name S | --queue-url URL] [--endpoint-url URL] [--json]
    idn-triggers-ops dlq redrive [--events] [--stack-name S | --queue-url URL --to URL] [--invocation-id ID ...]
                                 [--reason-prefix TEXT] [--max N] [--dry-run] [--method copy|move-task]
    idn-triggers-ops events list|show|replay ...; idn-triggers-ops deliveries tail ...
        (the delivery archive: see idn_tools.events)
    idn-triggers-ops recover --since DURATION [--trigger ID] [--all-subscriptions] [--dry-run] [--json]
        (events SailPoint could not deliver, from the tenant's invocation history: see idn_tools.recover)
    idn-triggers-ops triggers status|pause|resume ...
        (hold one trigger's events while its downstream is down: see idn_tools.trigger_ops)

Global flags (`--json`, `--endpoint-url`, `--region`, `--stack-name`) go before or after the
subcommand. Exit codes: 0 done, 2 usage error, 3 AWS refused or could not be reached (or, for
`events`, has no such event).

Against AWS it uses boto3's default credentials and region; `--stack-name` reads the stack outputs
`DeadLetterQueueUrl` (with `--events`, `EventsDeadLetterQueueUrl`: the EventBridge rule's) and
`WorkQueueUrl`. Against local mode (or any SQS emulation) give `--endpoint-url` (e.g. moto's URL that
`make run` prints); without queue URLs, the queues are found by their logical names
(`...-DeadLetterQueue` or `...-EventsDeadLetterQueue`, and `...-WorkQueue`).

Listing never prints a message body: it holds the invocation's callback secret and the trigger's
payload (identity data). It shows the `reason`, `triggerId`, `invocationId`, `failedAt` and
`receiveCount` attributes the worker sets, and the message's age. A message without a `reason`
was moved by SQS itself after `maxReceiveCount` receives (the worker crashed or timed out each time).

Redrive (`copy`, the default): receive a message (hidden from other readers meanwhile), send its
body, routing attributes and a `redrivenAt` mark to the work queue, and only then delete it from the
DLQ; each moved message is printed with what the worker will do with it (run the handler again, or,
for a request-response invocation SailPoint has closed, run it as a replay: docs/runbook-dlq.md). A
dead-lettered outcome never counted as done for the worker's idempotency, so the handler runs again.
A failure between the send and the delete leaves a copy in both queues; once one copy's run has
finished, the worker's idempotency absorbs the other. Nothing is ever deleted before it is stored
again. `move-task` asks SQS to move everything (StartMessageMoveTask; AWS only, no filters).
"""

from __future__ import annotations

import argparse
import builtins
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from idn_tools import events, recover, trigger_ops
from idn_tools.cli_support import (
    aws_client_options,
    aws_errors_explained,
    endpoint_from_environment,
    guarded,
    parse_arguments,
    quiet_closed_pipes,
    share_global_options,
)
from idn_tools.queues import OpsError, discovered_queue_urls, stack_queue_urls
from idn_triggers.queue import QueuedInvocation, ReceivedAttributes, redriven_attributes

NO_REASON = "(none: moved by SQS after maxReceiveCount; the worker crashed or timed out each time)"


@dataclass(frozen=True)
class DeadLetter:
    """What may be shown about one dead-lettered message: never its body."""

    message_id: str
    reason: str | None
    trigger_id: str | None
    invocation_id: str | None
    failed_at: str | None
    worker_receive_count: str | None
    age_seconds: float | None
    receipt_handle: str = ""
    effect: str = field(default="", compare=False)  # what a redrive will do (redrive only)

    def row(self) -> dict[str, Any]:
        row = asdict(self)
        row.pop("receipt_handle")
        if not self.effect:
            row.pop("effect")
        row["reason"] = self.reason or NO_REASON
        return row


def redrive_effect(message: dict[str, Any], now: datetime | None = None) -> str:
    """What the worker will do with this message once redriven (see QueuedInvocation.redriven): read
    from the body's shape and deadline, never printed."""
    attributes = ReceivedAttributes.from_sqs_message(message, ids_from_body=False)
    try:
        queued = QueuedInvocation.model_validate_json(message.get("Body", ""))
    except ValueError:
        body = message.get("Body", "")
        if '"detail-type"' in body:
            return "the worker runs it again (an EventBridge event)"
        return "the worker reads it again; a body it still cannot read comes back with the same reason"
    if queued.expects_answer and (attributes.closed_at_sailpoint or queued.past_deadline(now)):
        why = "deadline passed" if queued.past_deadline(now) else "already failed with an error"
        return f"runs as a replay: SailPoint closed this invocation ({why}); archived, never completed again"
    return "runs the handler again"


def dead_letter(message: dict[str, Any], now: float | None = None, effect: str = "") -> DeadLetter:
    attributes = ReceivedAttributes.from_sqs_message(message)
    sent = message.get("Attributes", {}).get("SentTimestamp")
    age = (now if now is not None else time.time()) - int(sent) / 1000 if sent else None
    return DeadLetter(
        message_id=message["MessageId"],
        reason=attributes.reason,
        trigger_id=attributes.trigger_id,
        invocation_id=attributes.invocation_id,
        failed_at=attributes.failed_at,
        worker_receive_count=attributes.receive_count,
        age_seconds=round(age, 1) if age is not None else None,
        receipt_handle=message["ReceiptHandle"],
        effect=effect,
    )


class DeadLetterQueue:
    """The DLQ through a boto3 SQS client."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url

    def _receive(self, hold_seconds: int) -> Iterator[dict[str, Any]]:
        """Every visible message once: each stays hidden for `hold_seconds` after it is read (with 0,
        messages come back at once; reading stops at the first batch with nothing new)."""
        seen: set[str] = set()
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=hold_seconds,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            fresh = [message for message in messages if message["MessageId"] not in seen]
            if not fresh:
                return
            seen.update(message["MessageId"] for message in fresh)
            yield from fresh

    def list(self, hold_seconds: int = 30) -> list[DeadLetter]:
        """The dead letters visible now. Each is hidden while the listing reads on (so it is listed
        once; `hold_seconds` bounds that if the listing is killed), and made visible again as soon as
        the listing ends: the next listing, or a redrive, sees them all."""
        held: list[dict[str, Any]] = []
        try:
            for message in self._receive(hold_seconds):
                held.append(message)
            return [dead_letter(message) for message in held]
        finally:
            self.release(held)

    def release(self, messages: Sequence[dict[str, Any]]) -> None:
        """Make received messages visible again now (visibility timeout 0), ten per request."""
        for start in range(0, len(messages), 10):
            batch = messages[start : start + 10]
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                    for index, message in enumerate(batch)
                ],
            )

    def redrive(
        self,
        work_queue_url: str,
        *,
        invocation_ids: Sequence[str] = (),
        reason_prefix: str | None = None,
        limit: int | None = None,
        dry_run: bool = False,
        hold_seconds: int = 60,
    ) -> tuple[builtins.list[DeadLetter], builtins.list[DeadLetter]]:  # `list` here is the method above
        """Move matching messages back to the work queue: (moved, skipped). Each is stored in the work
        queue before it is deleted from the DLQ; skipped ones are visible again when this ends."""
        moved: list[DeadLetter] = []
        skipped: list[DeadLetter] = []
        kept: list[dict[str, Any]] = []  # read but not moved: visible again when this ends
        try:
            for message in self._receive(hold_seconds):
                letter = dead_letter(message, effect=redrive_effect(message))
                wanted = (
                    (not invocation_ids or letter.invocation_id in invocation_ids)
                    and (reason_prefix is None or (letter.reason or "").startswith(reason_prefix))
                    and (limit is None or len(moved) < limit)
                )
                if not wanted or dry_run:
                    kept.append(message)
                    (moved if wanted else skipped).append(letter)
                    continue
                attributes = redriven_attributes(message.get("MessageAttributes", {}))
                self.sqs.send_message(
                    QueueUrl=work_queue_url, MessageBody=message["Body"], MessageAttributes=attributes
                )
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                moved.append(letter)
        finally:
            self.release(kept)
        return moved, skipped

    def move_task(self, work_queue_url: str) -> str:
        """Ask SQS to move every message to the work queue (AWS's StartMessageMoveTask)."""
        arn = self._arn(self.queue_url)
        destination = self._arn(work_queue_url)
        return str(self.sqs.start_message_move_task(SourceArn=arn, DestinationArn=destination)["TaskHandle"])

    def _arn(self, queue_url: str) -> str:
        return str(
            self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
        )


def _clients(args: argparse.Namespace) -> tuple[Any, Any]:
    """boto3 clients for SQS (and CloudFormation with --stack-name)."""
    import boto3

    options = aws_client_options(args.endpoint_url, args.region)
    return boto3.client("sqs", **options), (
        boto3.client("cloudformation", **options) if args.stack_name else None
    )


def _queues(args: argparse.Namespace, sqs: Any, cloudformation: Any) -> tuple[str, str | None]:
    if args.stack_name:
        return stack_queue_urls(cloudformation, args.stack_name, events=args.events)
    if args.queue_url:
        return args.queue_url, getattr(args, "to", None)
    if args.endpoint_url:
        return discovered_queue_urls(sqs, events=args.events)
    raise OpsError("give --stack-name, or --queue-url (with --to for redrive), or --endpoint-url")


def _print_table(letters: Sequence[DeadLetter]) -> None:
    if not letters:
        print("the dead-letter queue is empty")
        return
    columns = ("age", "trigger", "invocation", "reason")
    rows = [
        (
            "?" if letter.age_seconds is None else _age(letter.age_seconds),
            letter.trigger_id or "?",
            letter.invocation_id or "?",
            letter.reason or NO_REASON,
        )
        for letter in letters
    ]
    widths = [max(len(columns[i]), *(len(row[i]) for row in rows)) for i in range(3)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, [*widths, 0], strict=False)).rstrip())
    for row in rows:
        print(
            "  ".join([*(value.ljust(width) for value, width in zip(row[:3], widths, strict=True)), row[3]])
        )
    print(f"{len(letters)} dead-lettered message(s)")


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def build_parser() -> argparse.ArgumentParser:
    """The command line. Flags that every subcommand understands are defined once, here, on the
    top-level parser: `share_global_options` accepts them after any subcommand as well."""
    parser = argparse.ArgumentParser(prog="idn-triggers-ops", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="machine-readable output: one JSON object a line")
    parser.add_argument(
        "--endpoint-url",
        help="an AWS endpoint other than AWS's own (local mode: the moto URL `make run` prints; "
        "default: AWS_ENDPOINT_URL, which local mode's CLI env file sets); "
        "implies region us-east-1 and dummy credentials unless you have set them",
    )
    parser.add_argument("--region", help="AWS region (default: your AWS configuration's)")
    parser.add_argument("--stack-name", help="read DeadLetterQueueUrl/WorkQueueUrl from this stack's outputs")
    commands = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    dlq = commands.add_parser(
        "dlq", help="the dead-letter queues (the worker's; --events: EventBridge's): list, redrive"
    ).add_subparsers(dest="command", required=True, metavar="ACTION")
    for name, text in (
        ("list", "one line per dead-lettered message: age, trigger, invocation, reason (never the body)"),
        ("redrive", "store dead-lettered messages in the work queue again, then delete them from the DLQ"),
    ):
        command = dlq.add_parser(name, help=text, description=text)
        command.add_argument("--queue-url", help="the dead-letter queue's URL (instead of --stack-name)")
        command.add_argument(
            "--events",
            action="store_true",
            help="the EventBridge rule's dead-letter queue (stack output EventsDeadLetterQueueUrl): "
            "events EventBridge could not put on the work queue",
        )
        command.add_argument(
            "--hold-seconds",
            type=int,
            default=30,
            help="each message read stays hidden at most this long should the command be killed "
            "(default 30); messages are made visible again as soon as it ends",
        )
    redrive = dlq.choices["redrive"]
    redrive.add_argument("--to", help="the work queue's URL (with --queue-url)")
    redrive.add_argument("--invocation-id", action="append", default=[], help="only these (repeatable)")
    redrive.add_argument("--reason-prefix", help="only messages whose reason starts with this")
    redrive.add_argument("--max", type=int, help="move at most this many")
    redrive.add_argument("--dry-run", action="store_true", help="show what would move; move nothing")
    redrive.add_argument(
        "--method",
        choices=("copy", "move-task"),
        default="copy",
        help="copy: store then delete, one by one, with filters (default); move-task: SQS moves everything",
    )
    events.add_commands(commands)
    recover.add_parser(commands)
    trigger_ops.add_parser(commands)
    return share_global_options(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit codes: 0 done; 2 usage error; 3 AWS refused or could not be reached."""
    with quiet_closed_pipes():
        # `replay ID --dry-run ID`: event ids anywhere; any other leftover is the subcommand's usage error
        args = endpoint_from_environment(parse_arguments(build_parser(), argv, events.take_positionals))
        command = {
            "events": events.run,
            "deliveries": events.run,
            "recover": recover.run,
            "triggers": trigger_ops.run,
        }.get(args.group, run)
        return guarded(lambda: aws_errors_explained(lambda: command(args)))


def run(args: argparse.Namespace) -> int:
    """`dlq list|redrive`; AWS's errors are explained by the caller (aws_errors_explained)."""
    try:
        if not (args.stack_name or getattr(args, "queue_url", None) or args.endpoint_url):
            raise OpsError("give --stack-name, or --queue-url (with --to for redrive), or --endpoint-url")
        return run_dlq(args)
    except OpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def run_dlq(args: argparse.Namespace) -> int:
    sqs, cloudformation = _clients(args)
    dlq_url, work_url = _queues(args, sqs, cloudformation)
    queue = DeadLetterQueue(sqs, dlq_url)
    if args.command == "list":
        letters = queue.list(hold_seconds=args.hold_seconds)
        if args.json:
            for letter in letters:
                print(json.dumps(letter.row()))
        else:
            _print_table(letters)
        return 0
    if not work_url:
        raise OpsError("redrive needs the work queue: --to URL (or --stack-name)")
    if args.method == "move-task":
        if args.invocation_id or args.reason_prefix or args.max or args.dry_run:
            raise OpsError("move-task moves everything; filters and --dry-run need --method copy")
        print(f"message move task started: {queue.move_task(work_url)}")
        return 0
    moved, _ = queue.redrive(
        work_url,
        invocation_ids=args.invocation_id,
        reason_prefix=args.reason_prefix,
        limit=args.max,
        dry_run=args.dry_run,
        hold_seconds=args.hold_seconds,
    )
    verb = "would move" if args.dry_run else "moved"
    for letter in moved:
        print(
            json.dumps({"action": verb, **letter.row()})
            if args.json
            else f"{verb}: {letter.invocation_id or letter.message_id} ({letter.reason or NO_REASON})"
            f" -> {letter.effect}"
        )
    if not args.json:
        print(f"{verb} {len(moved)} message(s) to the work queue")
        if moved and not args.dry_run:
            print(
                "each shows in `idn-triggers-ops deliveries tail` (or `events list`) once the worker ran it"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
