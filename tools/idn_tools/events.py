"""Operator commands over the delivery archive: what arrived, what became of it, play it again.

    idn-triggers-ops events list   [--trigger ID] [--since T] [--until T] [--outcome O] [--limit N] [--json]
    idn-triggers-ops events show   EVENT_ID [--reveal]
    idn-triggers-ops events replay (EVENT_ID ... | --trigger ID --since T [--until T]) [--outcome O]
                                   [--rate N/s] [--dry-run] [--include-replays]
    idn-triggers-ops deliveries tail [--trigger ID] [--interval S] [--count N] [--json]

Where: `--stack-name S` (outputs ArchiveBucketName and WorkQueueUrl), or `--bucket B` (and `--queue-url
URL` to replay), or `--endpoint-url URL` alone against local mode (the one `*-archivebucket*` bucket
and `*-WorkQueue` queue there). Times: ISO 8601 (`2026-12-02`, `2026-12-02T09:30`, UTC unless an
offset is given), `now`, or an age such as `90s`, `15m`, `2h`, `7d`.

Listing and tailing never print payloads; `events show` prints the record with every payload and
answer value replaced by `***` unless `--reveal`. A replay queues the events again marked
`delivery=REPLAY` (the handler sees `context.replay`); the worker runs the handler and never
completes a request-response invocation at SailPoint again. One replay command queues each
invocation once, and its own idempotency key makes the worker run it once.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from idn_tools.cli_support import aws_client_options
from idn_tools.queues import OpsError, discovered_queue_urls
from idn_triggers.archive import (
    ArchivedDelivery,
    ArchiveError,
    ArchiveNotFound,
    DeliveryArchive,
    Window,
    s3_client,
    shown,
)
from idn_triggers.catalogue import known_triggers
from idn_triggers.envelope import DeliveryKind, ResponseMode
from idn_triggers.queue import replayed_invocation

_AGE = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>[smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
NOT_FOUND = 3  # the README's code for what AWS (here: the archive) does not have
_RATE = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?:/s)?$")


class EventsError(Exception):
    """A usage or environment problem; the message is the whole explanation."""


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """`now`, an age (`15m` ago) or an ISO 8601 date/time (UTC unless it says otherwise)."""
    current = now or datetime.now(UTC)
    value = text.strip()
    if value.lower() == "now":
        return current
    age = _AGE.match(value.lower())
    if age:
        return current - timedelta(seconds=float(age["n"]) * _UNITS[age["unit"]])
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise EventsError(
            f"cannot read the time {text!r}: use ISO 8601 (2026-12-02T09:30Z), now, or an age (15m, 2h, 7d)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_rate(text: str) -> float:
    """`--rate 10/s` (or `10`): events queued per second."""
    match = _RATE.match(text.strip())
    if match is None or float(match["n"]) <= 0:
        raise EventsError(f"--rate must be a positive number per second, e.g. 10/s (got {text!r})")
    return float(match["n"])


def window_of(since: str | None, until: str | None, default_age: timedelta) -> Window:
    now = datetime.now(UTC)
    start = parse_time(since, now) if since else now - default_age
    end = parse_time(until, now) if until else now + timedelta(seconds=1)
    if end <= start:
        raise EventsError("--until must be later than --since")
    return Window(start, end)


# -- checking the filters -----------------------------------------------------------------------------
def known_outcomes() -> list[str]:
    """Every outcome a record can have: the receiver's (`answered`, or the error it answered with) and
    the worker's (`WorkerOutcome`)."""
    from idn_triggers import errors
    from idn_triggers.worker import WorkerOutcome

    refused = {
        cls.outcome
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.TriggerError)
    }
    return sorted({"answered", *refused, *(o.value for o in WorkerOutcome)})


def checked_filters(args: argparse.Namespace, archive: DeliveryArchive, window: Window | None) -> None:
    """A misspelt --trigger or --outcome is a usage error naming close matches and the valid values,
    never an empty listing. A trigger is valid if the catalogue knows it or the window holds records
    of it (ExtraTriggers ids)."""
    outcomes = known_outcomes()
    for outcome in getattr(args, "outcome", None) or []:
        if outcome not in outcomes:
            raise EventsError(
                f"unknown outcome {outcome!r}{_close(outcome, outcomes)}; valid: {', '.join(outcomes)}"
            )
    trigger = getattr(args, "trigger", None)
    if trigger is None or trigger in known_triggers():
        return
    days = window.days() if window else [datetime.now(UTC).date()]
    archived = {found for day in days for found in archive.triggers_on(day)}
    if trigger not in archived:
        candidates = sorted({*known_triggers(), *archived})
        hint = _close(trigger, candidates) or "; `idn-triggers triggers list --offline` shows them all"
        raise EventsError(f"unknown trigger id {trigger!r}{hint}")


def _close(value: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, list(candidates), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(close)}?)" if close else ""


# -- selecting and replaying --------------------------------------------------------------------------
def matching(
    archive: DeliveryArchive,
    window: Window,
    *,
    trigger_id: str | None = None,
    outcomes: Sequence[str] = (),
    include_replays: bool = True,
    limit: int | None = None,
) -> Iterator[ArchivedDelivery]:
    """The window's records, oldest first, filtered (records are read only as far as needed)."""
    found = 0
    for record in archive.records(archive.keys(window, trigger_id)):
        if outcomes and record.outcome not in outcomes:
            continue
        if not include_replays and record.delivery is DeliveryKind.REPLAY:
            continue
        yield record
        found += 1
        if limit is not None and found >= limit:
            return


def once_each(records: Sequence[ArchivedDelivery]) -> list[ArchivedDelivery]:
    """One record per invocation (the first): one replay command never runs an event twice."""
    chosen: dict[tuple[str, str], ArchivedDelivery] = {}
    for record in records:
        chosen.setdefault((record.trigger_id, record.invocation_id), record)
    return list(chosen.values())


@dataclass
class Replay:
    """Queues archived events again on the work queue, at most `rate` per second."""

    sqs: Any
    queue_url: str
    rate: float | None = None
    replay_id: str = ""
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.replay_id = self.replay_id or uuid.uuid4().hex[:12]

    def send(self, records: Sequence[ArchivedDelivery]) -> Iterator[ArchivedDelivery]:
        started = self.clock()
        for sent, record in enumerate(records):
            if self.rate:
                wait = started + sent / self.rate - self.clock()
                if wait > 0:
                    self.sleep(wait)
            message = replayed_invocation(
                trigger_id=record.trigger_id,
                trigger_type=record.trigger_type,
                mode=None if record.mode not in ResponseMode.__members__ else ResponseMode(record.mode),
                invocation_id=record.invocation_id,
                payload=record.payload,
                event_id=record.event_id,
                replay_id=self.replay_id,
            )
            self.sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=message.model_dump_json(),
                MessageAttributes=message.sqs_attributes(),
            )
            yield record


# -- following new deliveries -------------------------------------------------------------------------
def follow(
    archive: DeliveryArchive,
    *,
    trigger_id: str | None = None,
    interval: float = 2.0,
    lookback: timedelta = timedelta(minutes=15),
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Iterator[ArchivedDelivery]:
    """Records that appear after the call, as they appear, oldest first within each poll. A record
    is written when its delivery ends (the worker may take a while), so each poll looks back
    `lookback` for records not seen yet."""
    seen: set[str] | None = None
    while True:
        current = now()
        keys = archive.keys(Window(current - lookback, current + timedelta(minutes=1)), trigger_id)
        if seen is None:
            seen = set(keys)  # what was there before: not new
        else:
            fresh = [key for key in keys if key not in seen]
            seen = set(keys)  # what left the window cannot come back: memory stays bounded
            yield from archive.records(fresh)
        sleep(interval)


_PAYLOAD_KEY = re.compile(r"^[0-9a-f]{64}$")


def invocation_label(record: ArchivedDelivery) -> str:
    """SailPoint's invocation id as `idn-triggers invocations status` shows it; a SYNC or HTTP
    fire-and-forget delivery carries none, and its record holds our de-duplication key instead
    (the payload's fingerprint, or a sample's own id): shown labelled `key:`, shortened."""
    value = record.invocation_id
    if _PAYLOAD_KEY.match(value):
        return f"key:{value[:12]}"
    if value.startswith("sample-"):
        return f"key:{value}"
    return value


def _when(moment: datetime) -> str:
    """UTC to the millisecond: enough to order records that arrive within one second."""
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z"


def _tags(record: ArchivedDelivery) -> list[str]:
    """What sets a record apart from a live HTTP delivery: EVENTBRIDGE, and REPLAY, RECOVERED, REDRIVE."""
    return [
        *(["EVENTBRIDGE"] if record.transport == "EVENTBRIDGE" else []),
        *([] if record.delivery is DeliveryKind.LIVE else [record.delivery.value]),
    ]


def tail_line(record: ArchivedDelivery) -> str:
    """time, trigger, mode, status, outcome, latency, invocation id (and the delivery kind if not live)."""
    status = "-" if record.status_code is None else str(record.status_code)
    kind = "".join(f"  [{tag}]" for tag in _tags(record))
    return (
        f"{_when(record.received_at)}  {record.trigger_id}  {record.mode}  {status}  {record.outcome}  "
        f"{record.latency_ms:.0f}ms  {invocation_label(record)}{kind}"
    )


def _table(records: Sequence[ArchivedDelivery]) -> str:
    header = ("received", "event id", "trigger", "mode", "status", "outcome", "latency", "invocation or key")
    rows = [
        (
            _when(r.received_at),
            r.event_id,
            r.trigger_id,
            r.mode + (f" ({', '.join(_tags(r))})" if _tags(r) else ""),
            "-" if r.status_code is None else str(r.status_code),
            r.outcome,
            f"{r.latency_ms:.0f}ms",
            invocation_label(r),
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in [header, *rows]
    ]
    return "\n".join(lines)


# -- the command line ---------------------------------------------------------------------------------
def add_commands(commands: Any) -> None:
    """Add `events` and `deliveries` to idn-triggers-ops' sub-commands."""
    events = commands.add_parser("events", help="the delivery archive: list, show, replay").add_subparsers(
        dest="command", required=True
    )
    listing = events.add_parser("list", help="archived deliveries in a time window (no payloads)")
    show = events.add_parser("show", help="one archived delivery (values redacted unless --reveal)")
    replay = events.add_parser("replay", help="queue archived deliveries again, marked as replays")
    deliveries = commands.add_parser("deliveries", help="the delivery log").add_subparsers(
        dest="command", required=True
    )
    tail = deliveries.add_parser("tail", help="follow new deliveries, one line each")
    for command in (listing, show, replay, tail):
        command.add_argument("--stack-name", help="read ArchiveBucketName (and WorkQueueUrl) from this stack")
        command.add_argument("--bucket", help="the archive bucket's name")
        command.add_argument("--endpoint-url", help="an AWS endpoint other than AWS (local mode: moto)")
        command.add_argument("--region", help="the AWS region (default: your AWS configuration)")
    for command in (listing, replay, tail):
        command.add_argument("--trigger", help="only this trigger id")
    for command in (listing, replay):
        command.add_argument("--since", help="from this time (default: 24 hours ago for list)")
        command.add_argument("--until", help="up to this time (default: now)")
        command.add_argument(
            "--outcome",
            action="append",
            default=[],
            help="only this outcome (repeatable): " + ", ".join(known_outcomes()),
        )
    listing.add_argument("--limit", type=int, default=200, help="at most this many (default 200)")
    listing.add_argument("--json", action="store_true", help="one JSON object per delivery")
    show.add_argument("event_id", metavar="EVENT_ID", help="the event id (from events list)")
    show.add_argument("--reveal", action="store_true", help="print payload and answer values (personal data)")
    replay.add_argument("event_ids", nargs="*", metavar="EVENT_ID", help="these events (or a window)")
    replay.add_argument("--queue-url", help="the work queue's URL (default: from the stack or local mode)")
    replay.add_argument(
        "--rate", help="at most N events per second, e.g. 10/s (default: as fast as SQS takes)"
    )
    replay.add_argument("--dry-run", action="store_true", help="show what would be queued; queue nothing")
    replay.add_argument(
        "--include-replays", action="store_true", help="also replay records that were replays themselves"
    )
    replay.add_argument("--json", action="store_true", help="one JSON object per event")
    tail.add_argument("--interval", type=float, default=2.0, help="seconds between polls (default 2)")
    tail.add_argument("--count", type=int, help="stop after this many deliveries")
    tail.add_argument("--json", action="store_true", help="one JSON object per delivery")


def take_positionals(args: argparse.Namespace, extra: Sequence[str]) -> bool:
    """Event ids given after an option (argparse stops collecting them there): whether all were taken."""
    if getattr(args, "group", None) != "events" or getattr(args, "command", None) != "replay":
        return False
    if any(item.startswith("-") for item in extra):
        return False
    args.event_ids = [*args.event_ids, *extra]
    return True


@dataclass
class Clients:
    archive: DeliveryArchive
    options: dict[str, Any]
    stack_outputs: dict[str, str]


def _clients(args: argparse.Namespace) -> Clients:
    options = aws_client_options(args.endpoint_url, args.region)
    outputs: dict[str, str] = {}
    if args.stack_name:
        import boto3

        try:
            stacks = boto3.client("cloudformation", **options).describe_stacks(StackName=args.stack_name)
        except Exception as error:
            raise EventsError(f"cannot read stack {args.stack_name}: {error}") from None
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks["Stacks"][0].get("Outputs", [])}
    credentials = {k: v for k, v in options.items() if k.startswith("aws_")}
    s3 = s3_client(options.get("endpoint_url"), options.get("region_name"), credentials=credentials)
    bucket = args.bucket or outputs.get("ArchiveBucketName")
    if not bucket and args.stack_name:
        raise EventsError(
            f"stack {args.stack_name} has no ArchiveBucketName output: is ArchiveRetentionDays 0 (archive off)?"
        )
    if not bucket and args.endpoint_url:
        names = [b["Name"] for b in s3.list_buckets().get("Buckets", []) if "-archivebucket" in b["Name"]]
        if len(names) != 1:
            raise EventsError(f"found {len(names)} archive buckets at this endpoint; give --bucket")
        bucket = names[0]
    if not bucket:
        raise EventsError("give --stack-name, or --bucket, or --endpoint-url (local mode)")
    return Clients(DeliveryArchive(bucket, s3), options, outputs)


def _work_queue(args: argparse.Namespace, clients: Clients, sqs: Any) -> str:
    if args.queue_url:
        return str(args.queue_url)
    if "WorkQueueUrl" in clients.stack_outputs:
        return clients.stack_outputs["WorkQueueUrl"]
    if args.endpoint_url:
        try:
            return discovered_queue_urls(sqs)[1]
        except OpsError as error:
            raise EventsError(str(error)) from None
    raise EventsError("replay needs the work queue: --queue-url URL (or --stack-name)")


def run(args: argparse.Namespace) -> int:
    """Run an `events` or `deliveries` command; its own errors are one line on stderr and exit status
    2, an unknown event id 3 (as `idn-triggers` answers a tenant's "not found"). AWS's errors, a closed pipe and Ctrl-C are the caller's (cli_support: aws_errors_explained,
    guarded)."""
    try:
        return _run(args)
    except ArchiveNotFound as error:  # what you named does not exist: not a usage error
        print(f"error: {error}", file=sys.stderr)
        return NOT_FOUND
    except (EventsError, ArchiveError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.group == "events" and args.command == "replay":
        _check_replay_arguments(args)
    if getattr(args, "rate", None) is not None:
        args.rate = parse_rate(args.rate)
    clients = _clients(args)
    archive = clients.archive
    if args.group == "deliveries":
        checked_filters(args, archive, None)
        followed = follow(archive, trigger_id=args.trigger, interval=max(0.2, args.interval))
        for shown_count, record in enumerate(followed, start=1):
            print(json.dumps(record.summary()) if args.json else tail_line(record), flush=True)
            if args.count is not None and shown_count >= args.count:
                return 0
        return 0  # pragma: no cover - follow never ends by itself
    if args.command == "show":
        print(json.dumps(shown(archive.find(args.event_id), reveal=args.reveal), indent=2))
        return 0
    if args.command == "list":
        window = window_of(args.since, args.until, timedelta(hours=24))
        checked_filters(args, archive, window)
        records = list(
            matching(
                archive, window, trigger_id=args.trigger, outcomes=args.outcome, limit=max(1, args.limit)
            )
        )
        if len(records) >= args.limit:
            print(
                f"(the first {len(records)} of the window: narrow --since/--until or raise --limit)",
                file=sys.stderr,
            )
        if args.json:
            for record in records:
                print(json.dumps(record.summary()))
        elif records:
            print(_table(records))
            print(f"{len(records)} deliver{'y' if len(records) == 1 else 'ies'}")
        else:
            print("no archived deliveries in this window")
        return 0
    return _replay(args, clients)


def _check_replay_arguments(args: argparse.Namespace) -> None:
    window_given = args.trigger or args.since or args.until or args.outcome
    if args.event_ids and window_given:
        raise EventsError("give event ids, or --trigger with --since/--until, not both")
    if not args.event_ids and not (args.trigger and args.since):
        raise EventsError("give event ids, or --trigger ID --since T [--until T]")


def _replay(args: argparse.Namespace, clients: Clients) -> int:
    archive = clients.archive
    if args.event_ids:
        records = [archive.find(event_id) for event_id in dict.fromkeys(args.event_ids)]
    else:
        window = window_of(args.since, args.until, timedelta(hours=24))
        checked_filters(args, archive, window)
        records = list(
            matching(
                archive,
                window,
                trigger_id=args.trigger,
                outcomes=args.outcome,
                include_replays=args.include_replays,
            )
        )
    selected = once_each(records)
    import boto3

    sqs = boto3.client("sqs", **clients.options)
    queue_url = _work_queue(args, clients, sqs) if not args.dry_run else ""
    replay = Replay(sqs, queue_url, rate=args.rate)
    verb = "would replay" if args.dry_run else "replayed"
    sent = selected if args.dry_run else replay.send(selected)
    count = 0
    for record in sent:
        count += 1
        if args.json:
            print(json.dumps({"action": verb, "replay_id": replay.replay_id, **record.summary()}))
        else:
            print(f"{verb}: {record.event_id} {record.trigger_id} {record.invocation_id}")
    skipped = len(records) - len(selected)
    note = f" ({skipped} duplicate record(s) of the same invocations skipped)" if skipped else ""
    print(
        f"{verb} {count} event(s){'' if args.dry_run else f' as replay {replay.replay_id}'}{note}",
        file=sys.stderr if args.json else sys.stdout,
    )
    return 0
