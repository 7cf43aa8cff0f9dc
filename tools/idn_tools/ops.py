"""Operator commands for the dead-letter queue: inspect what was dead-lettered, and redrive it;
and for the delivery archive (`events list/show/replay`, `deliveries tail`: see idn_tools.events).

    python -m idn_tools.ops dlq list    [--stack-name S | --queue-url URL] [--endpoint-url URL] [--json]
    python -m idn_tools.ops dlq redrive [--stack-name S | --queue-url URL --to URL] [--invocation-id ID ...]
                                        [--reason-prefix TEXT] [--max N] [--dry-run] [--method copy|move-task]
    python -m idn_tools.ops recover --since DURATION [--trigger ID] [--all-subscriptions] [--dry-run] [--json]
        (events SailPoint could not deliver, from the tenant's invocation history: see idn_tools.recover)

Against AWS it uses boto3's default credentials and region; `--stack-name` reads the stack outputs
`DeadLetterQueueUrl` and `WorkQueueUrl`. Against local mode (or any SQS emulation) give
`--endpoint-url` (e.g. moto's URL that `make run` prints); without queue URLs, the queues are found
by their logical names (`...-DeadLetterQueue`, `...-WorkQueue`).

Listing never prints a message body: it holds the invocation's callback secret and the trigger's
payload (identity data). It shows the `reason`, `triggerId`, `invocationId`, `failedAt` and
`receiveCount` attributes the worker sets, and the message's age. A message without a `reason`
was moved by SQS itself after `maxReceiveCount` receives (the worker crashed or timed out each time).

Redrive (`copy`, the default): receive a message (hidden from other readers meanwhile), send its
body and routing attributes to the work queue, and only then delete it from the DLQ. A failure
between the send and the delete leaves a copy in both queues, which the worker's idempotency absorbs;
nothing is ever deleted before it is stored again. `move-task` asks SQS to move everything
(StartMessageMoveTask; AWS only, no filters).
"""

from __future__ import annotations

import argparse
import builtins
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from idn_tools import events, recover
from idn_triggers.queue import ReceivedAttributes, routing_attributes

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

    def row(self) -> dict[str, Any]:
        row = asdict(self)
        row.pop("receipt_handle")
        row["reason"] = self.reason or NO_REASON
        return row


def dead_letter(message: dict[str, Any], now: float | None = None) -> DeadLetter:
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
        """The dead letters visible now. They are hidden for `hold_seconds` while being read (so each
        is listed once), then visible again; listing changes nothing else."""
        return [dead_letter(message) for message in self._receive(hold_seconds)]

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
        queue before it is deleted from the DLQ; skipped ones become visible again after the hold."""
        moved: list[DeadLetter] = []
        skipped: list[DeadLetter] = []
        for message in self._receive(hold_seconds):
            letter = dead_letter(message)
            wanted = (not invocation_ids or letter.invocation_id in invocation_ids) and (
                reason_prefix is None or (letter.reason or "").startswith(reason_prefix)
            )
            if not wanted or (limit is not None and len(moved) >= limit):
                skipped.append(letter)
                continue
            if dry_run:
                moved.append(letter)
                continue
            attributes = routing_attributes(message.get("MessageAttributes", {}))
            self.sqs.send_message(
                QueueUrl=work_queue_url, MessageBody=message["Body"], MessageAttributes=attributes
            )
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            moved.append(letter)
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


# -- finding the queues -----------------------------------------------------------------------------
class OpsError(Exception):
    """A usage or environment problem; the message is the whole explanation."""


def stack_queue_urls(cloudformation: Any, stack_name: str) -> tuple[str, str]:
    """(DeadLetterQueueUrl, WorkQueueUrl) from the stack's outputs."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except Exception as error:
        raise OpsError(f"cannot read stack {stack_name}: {error}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [key for key in ("DeadLetterQueueUrl", "WorkQueueUrl") if key not in outputs]
    if missing:
        raise OpsError(f"stack {stack_name} has no output {', '.join(missing)}")
    return outputs["DeadLetterQueueUrl"], outputs["WorkQueueUrl"]


def discovered_queue_urls(sqs: Any) -> tuple[str, str]:
    """Local mode: the one `...-DeadLetterQueue` and `...-WorkQueue` the endpoint holds."""
    urls = sqs.list_queues().get("QueueUrls", [])
    found = []
    for suffix in ("-DeadLetterQueue", "-WorkQueue"):
        matches = [url for url in urls if url.endswith(suffix)]
        if len(matches) != 1:
            raise OpsError(
                f"found {len(matches)} queues named *{suffix} at this endpoint; give --queue-url (and --to)"
            )
        found.append(matches[0])
    return found[0], found[1]


def _clients(args: argparse.Namespace) -> tuple[Any, Any]:
    import boto3

    options: dict[str, Any] = {}
    if args.endpoint_url:  # an emulator (local mode's moto): region and credentials need no setup
        options["endpoint_url"] = args.endpoint_url
        options["region_name"] = "us-east-1"
        if boto3.Session().get_credentials() is None:
            options.update(aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106
    if args.region:
        options["region_name"] = args.region
    return boto3.client("sqs", **options), (
        boto3.client("cloudformation", **options) if args.stack_name else None
    )


def _queues(args: argparse.Namespace, sqs: Any, cloudformation: Any) -> tuple[str, str | None]:
    if args.stack_name:
        return stack_queue_urls(cloudformation, args.stack_name)
    if args.queue_url:
        return args.queue_url, getattr(args, "to", None)
    if args.endpoint_url:
        return discovered_queue_urls(sqs)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="idn-triggers-ops", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="group", required=True)
    dlq = commands.add_parser("dlq", help="the dead-letter queue").add_subparsers(
        dest="command", required=True
    )
    for name in ("list", "redrive"):
        command = dlq.add_parser(name)
        command.add_argument("--stack-name", help="read DeadLetterQueueUrl/WorkQueueUrl from this stack")
        command.add_argument("--queue-url", help="the dead-letter queue's URL")
        command.add_argument("--endpoint-url", help="an SQS endpoint other than AWS (local mode: moto)")
        command.add_argument("--region")
        command.add_argument("--json", action="store_true", help="one JSON object per message")
        command.add_argument(
            "--hold-seconds",
            type=int,
            default=30,
            help="how long each message read stays hidden (default 30)",
        )
    redrive = dlq.choices["redrive"]
    redrive.add_argument("--to", help="the work queue's URL (with --queue-url)")
    redrive.add_argument("--invocation-id", action="append", default=[], help="only these (repeatable)")
    redrive.add_argument("--reason-prefix", help="only messages whose reason starts with this")
    redrive.add_argument("--max", type=int, help="move at most this many")
    redrive.add_argument("--dry-run", action="store_true", help="show what would move; move nothing")
    redrive.add_argument("--method", choices=("copy", "move-task"), default="copy")
    events.add_commands(commands)
    recover.add_parser(commands)
    args, extra = parser.parse_known_args(argv)
    if extra and not events.take_positionals(args, extra):  # `replay ID --dry-run ID`: ids anywhere
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.group in ("events", "deliveries"):
        return events.run(args)
    if args.group == "recover":
        return recover.run(args)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return _run_dlq(args)
    except OpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:  # no region or credentials, endpoint down, refused
        print(f"error: AWS: {error}", file=sys.stderr)
        return 3


def _run_dlq(args: argparse.Namespace) -> int:
    """`dlq list` and `dlq redrive`; raises OpsError for what the operator must fix."""
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
        )
    print(f"{verb} {len(moved)} message(s) to the work queue")
    return 0


if __name__ == "__main__":
    sys.exit(main())
