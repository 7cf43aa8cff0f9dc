"""`idn-triggers-ops recover`: run one recovery pass by hand, with the reconciler's own code.

    idn-triggers-ops recover --since DURATION [--trigger ID] [--all-subscriptions] [--dry-run] [--json]
                             [--include-tests] [--webhook-url URL] [--stack-name S | --endpoint-url URL]
                             [--table NAME] [--queue-url URL] [--region R]

The tenant comes from SAILPOINT_TENANT_URL, SAILPOINT_CLIENT_ID and SAILPOINT_CLIENT_SECRET (as for
`idn-triggers`). AWS is reached as the other ops commands reach it: boto3's default credentials,
`--stack-name` (outputs WebhookBaseUrl, WorkQueueUrl, RecoveryStateTableName), or `--endpoint-url`
(local mode: the `...-WorkQueue` and `...-RecoveryStateTable` found there). `--dry-run` touches no
AWS at all: it prints what a pass would do, one JSON object per line with `--json`:
`{"invocationId", "triggerId", "subscriptionId", "created", "action"}` (`queue` or `unrecoverable`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from pydantic import SecretStr

from idn_tools.cli_support import aws_client_options, tenant_url_problem
from idn_triggers.durations import parse_duration
from idn_triggers.queue import QueueSender
from idn_triggers.recovery import (
    HISTORY_RETENTION,
    DynamoDBRecoveryState,
    Finding,
    PassReport,
    Reconciler,
    Subscriptions,
    stack_subscriptions,
)
from idn_triggers.sailpoint_api import SailPointApiError, SailPointClient
from idn_triggers.tokens import ClientCredentials, ClientCredentialsTokenProvider, TokenUnavailable

_HUMAN = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")


class RecoverUsageError(Exception):
    """Bad input: the message is the whole explanation (exit code 2)."""


def parse_since(text: str) -> timedelta:
    """`48h`, `90m`, `2d`, `1h30m`, or ISO-8601 (`PT2H`): how far back the pass reads."""
    value = text.strip()
    match = _HUMAN.match(value.lower())
    if value and match and any(match.groupdict().values()):
        parts = {k: int(v or 0) for k, v in match.groupdict().items()}
        since = timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])
    else:
        try:
            since = parse_duration(value.upper())
        except ValueError:
            raise RecoverUsageError(
                f"--since {text!r} is not a duration: use e.g. 30m, 6h, 2d or PT6H"
            ) from None
    if since <= timedelta(0):
        raise RecoverUsageError("--since must be longer than zero")
    return since


def add_parser(commands: Any) -> None:
    recover = commands.add_parser(
        "recover",
        help="recover events SailPoint could not deliver (from the tenant's invocation history)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    recover.add_argument(
        "--since", required=True, help="how far back to read, e.g. 30m, 6h, 2d (at most 48h)"
    )
    recover.add_argument("--trigger", help="only this trigger id")
    recover.add_argument(
        "--all-subscriptions",
        action="store_true",
        help="every subscription of the tenant, not only this stack's",
    )
    recover.add_argument("--dry-run", action="store_true", help="print what would be done; touch no AWS")
    recover.add_argument("--json", action="store_true", help="one JSON object per line")
    recover.add_argument("--include-tests", action="store_true", help="TEST invocations count too")
    recover.add_argument("--webhook-url", help="this stack's webhook base URL (.../triggers/)")
    recover.add_argument("--stack-name", help="read WebhookBaseUrl, WorkQueueUrl, RecoveryStateTableName")
    recover.add_argument("--endpoint-url", help="an AWS endpoint other than AWS (local mode: moto)")
    recover.add_argument("--table", help="the recovery state table (RecoveryStateTableName)")
    recover.add_argument("--queue-url", help="the work queue's URL")
    recover.add_argument("--region", help="the AWS region (default: your AWS configuration)")
    recover.add_argument("--tenant-url", help="tenant API base URL (env SAILPOINT_TENANT_URL)")
    recover.add_argument("--client-id", help="API client id (env SAILPOINT_CLIENT_ID)")
    recover.add_argument("-v", "--verbose", action="store_true", help="the library's log lines, on stderr")
    recover.add_argument("--grace", default="PT15M", help="not completed after this long counts as failed")


def _tenant(args: argparse.Namespace) -> SailPointClient:
    """The tenant's API client from SAILPOINT_TENANT_URL, SAILPOINT_CLIENT_ID, SAILPOINT_CLIENT_SECRET
    (the flags override the first two; the secret is read from the environment only)."""
    url = args.tenant_url or os.environ.get("SAILPOINT_TENANT_URL")
    client_id = args.client_id or os.environ.get("SAILPOINT_CLIENT_ID")
    secret = os.environ.get("SAILPOINT_CLIENT_SECRET")
    missing = [
        name
        for name, value in (
            ("SAILPOINT_TENANT_URL", url),
            ("SAILPOINT_CLIENT_ID", client_id),
            ("SAILPOINT_CLIENT_SECRET", secret),
        )
        if not value
    ]
    if missing:
        raise RecoverUsageError(
            f"set {', '.join(missing)} (the tenant and the API client, as for idn-triggers; the client "
            "needs the sp:trigger-service-invocation-status:read and subscriptions read scopes)"
        )
    assert url and client_id and secret
    problem = tenant_url_problem(url)
    if problem:
        raise RecoverUsageError(f"{problem} (SAILPOINT_TENANT_URL or --tenant-url)")
    credentials = ClientCredentials(client_id=client_id, client_secret=SecretStr(secret))
    base = url.rstrip("/")
    return SailPointClient(base, ClientCredentialsTokenProvider(base, lambda: credentials))


def _stack_outputs(args: argparse.Namespace, options: dict[str, Any]) -> dict[str, str]:
    import boto3

    try:
        stacks = boto3.client("cloudformation", **options).describe_stacks(StackName=args.stack_name)[
            "Stacks"
        ]
    except Exception as error:
        raise RecoverUsageError(f"cannot read stack {args.stack_name}: {error}") from None
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def _discover(client: Any, names: list[str], suffix: str, flag: str) -> str:
    matches = [name for name in names if name.endswith(suffix)]
    if len(matches) != 1:
        raise RecoverUsageError(
            f"found {len(matches)} resources named *{suffix} at this endpoint; give {flag}"
        )
    return matches[0]


def _aws(args: argparse.Namespace) -> tuple[DynamoDBRecoveryState, QueueSender, str | None]:
    """The state table, the work queue and (from the stack) the webhook URL."""
    import boto3

    options = aws_client_options(args.endpoint_url, args.region)
    dynamodb, sqs = boto3.client("dynamodb", **options), boto3.client("sqs", **options)
    table, queue_url, webhook = args.table, args.queue_url, None
    if args.stack_name:
        outputs = _stack_outputs(args, options)
        table = table or outputs.get("RecoveryStateTableName")
        queue_url = queue_url or outputs.get("WorkQueueUrl")
        webhook = outputs.get("WebhookBaseUrl")
    elif args.endpoint_url:
        table = table or _discover(
            dynamodb, dynamodb.list_tables()["TableNames"], "-RecoveryStateTable", "--table"
        )
        queue_url = queue_url or _discover(
            sqs, sqs.list_queues().get("QueueUrls", []), "-WorkQueue", "--queue-url"
        )
    if not table or not queue_url:
        raise RecoverUsageError(
            "give --stack-name, or --table and --queue-url, or --endpoint-url (local mode)"
        )
    return DynamoDBRecoveryState(dynamodb, table), QueueSender(queue_url, sqs), webhook


def _print(findings: list[Finding], as_json: bool, verb: str) -> None:
    for finding in findings:
        row = finding.row()
        if as_json:
            print(json.dumps(row))
        else:
            action = verb if finding.action.value == "queue" else "unrecoverable"
            print(
                f"{action:<13} {row['created']}  {row['triggerId']}  {row['invocationId']}  {row['subscriptionId']}"
            )


def _warn(report: PassReport) -> None:
    if report.gap:
        print(
            f"warning: no successful recovery pass since {report.gap[0].isoformat()} - longer than the "
            f"{HISTORY_RETENTION.total_seconds() / 3600:.0f} h the tenant keeps failed invocations; "
            "events that failed before the history starts are lost beyond recovery",
            file=sys.stderr,
        )
    if report.truncated:
        print(
            "warning: the invocation history holds its 2000-invocation cap inside the window: "
            "more than 2000 invocations happened, and older failures may no longer be listed",
            file=sys.stderr,
        )


@contextmanager
def _quiet_library_logs(verbose: bool) -> Iterator[None]:
    """The command prints its own rows, warnings and summary; the library's JSON log lines go to
    stderr, and only with --verbose (stdout stays one JSON object per line). The library's logger
    is shared by the whole process, so its level and streams are given back afterwards."""
    import logging

    from idn_triggers.recovery import logger

    shared = logging.getLogger(logger.name)
    level = shared.level
    streams = [(h, h.stream) for h in shared.handlers if isinstance(h, logging.StreamHandler)]
    for handler, _ in streams:
        handler.setStream(sys.stderr)
    logger.setLevel("INFO" if verbose else "CRITICAL")
    try:
        yield
    finally:
        shared.setLevel(level)
        for handler, stream in streams:
            handler.setStream(stream)


def run(args: argparse.Namespace) -> int:
    with _quiet_library_logs(args.verbose):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        since = parse_since(args.since)
        grace = parse_since(args.grace)
        if since > HISTORY_RETENTION:
            print(
                f"note: the tenant keeps failed invocations {HISTORY_RETENTION.total_seconds() / 3600:.0f} h; "
                "older ones are gone and cannot be recovered",
                file=sys.stderr,
            )
        api = _tenant(args)
        state: DynamoDBRecoveryState | None = None
        sender: QueueSender | None = None
        webhook = args.webhook_url
        if not args.dry_run:
            state, sender, stack_webhook = _aws(args)
            webhook = webhook or stack_webhook
        if not args.all_subscriptions and not webhook:
            raise RecoverUsageError(
                "which subscriptions are this stack's? give --webhook-url (or --stack-name), "
                "or --all-subscriptions"
            )

        def scope() -> Subscriptions:
            if args.all_subscriptions:
                return Subscriptions(None)
            assert webhook is not None
            return stack_subscriptions(api, webhook)

        reconciler = Reconciler(
            api,
            scope,
            state,
            sender,
            grace=grace,
            include_tests=args.include_tests,
            trigger_id=args.trigger,
        )
        report = reconciler.run(since=since)
    except RecoverUsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (SailPointApiError, TokenUnavailable) as error:
        print(f"error: {error} (check SAILPOINT_TENANT_URL, the client id and secret)", file=sys.stderr)
        return 1
    try:
        if report.dry_run:
            _print(report.findings, args.json, "would queue")
        else:
            _print([*report.queued, *report.unrecoverable], args.json, "queued")
        sys.stdout.flush()
    except BrokenPipeError:  # piped into head: the reader has what it wanted
        sys.stdout = open("/dev/null", "w")  # noqa: SIM115 - keep the interpreter's final flush quiet
        return 0
    _warn(report)
    summary = report.summary()
    print(
        ("dry run: " if report.dry_run else "")
        + f"{summary['found']} to act on, {summary['queued']} queued, "
        f"{summary['alreadyDone']} already done, {summary['unrecoverable']} newly unrecoverable, "
        f"{summary['sendFailures']} send failures ({summary['historyCalls']} history calls, "
        f"{summary['entriesSeen']} entries read)",
        file=sys.stderr,
    )
    return 0 if report.complete else 1
