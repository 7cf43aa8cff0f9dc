"""Recovery: events SailPoint could not deliver, read back from the tenant's invocation history.

SailPoint never resends a fire-and-forget event; the only copy of one whose delivery failed is the
tenant's invocation history (`GET /trigger-invocations/v1/status`: failed entries are kept 48 h,
successful ones 24 h, at most 2000 entries). A pass:

1. lists this stack's subscriptions (those whose URL starts with the stack's webhook base URL);
2. pages the history newest first (`sorters=-created`, `limit`/`offset`) down to the window start;
3. classifies each REAL_TIME entry of those subscriptions (TEST entries only when asked):
   - a fire-and-forget invocation that failed, or is still not completed past a grace period, is
     queued on the work queue as a RECOVERED delivery;
   - a request-response invocation that failed cannot be answered any more: it is reported (ids
     only, never payload values);
4. remembers, in DynamoDB with conditional writes, what it queued and reported (so two passes, even
   at once, queue nothing twice) and when the last pass succeeded (the watermark: a gap longer than
   the history's 48 h retention means events may be gone beyond recovery).

The idempotency key of a recovered event is the live delivery's key (`queue.idempotency_key`): an
event that was in fact handled (the receiver queued it but SailPoint recorded a timeout) is absorbed
by the worker's idempotency instead of running twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Protocol

from aws_lambda_powertools import Logger

from idn_triggers.catalogue import TriggerType, known_triggers
from idn_triggers.queue import SQS_BATCH, QueuedInvocation, idempotency_key, recovered_invocation
from idn_triggers.sailpoint_api import SailPointClient, SailPointNotFound

logger = Logger()

HISTORY_RETENTION: Final = timedelta(hours=48)  # failed invocations; successful ones 24 h
HISTORY_CAP: Final = 2000  # the status endpoint returns at most this many invocations
PAGE_SIZE: Final = 250  # SailPoint's largest page
WATERMARK_ID: Final = "watermark"
CLAIM_LEASE: Final = timedelta(minutes=5)  # a crashed pass's claim is taken over after this
CLAIM_THREADS: Final = 8  # claims are independent conditional writes; boto3 clients are thread-safe
BATCH_BYTES: Final = 200 * 1024  # SendMessageBatch takes 256 KiB in all; room for the attributes
STATE_TTL: Final = timedelta(hours=72)  # state outlives the history's retention, then DynamoDB drops it


class Action(StrEnum):
    """What a pass does with a history entry (the `action` of `recover --dry-run --json`)."""

    QUEUE = "queue"
    UNRECOVERABLE = "unrecoverable"


def parse_timestamp(text: str | None) -> datetime | None:
    """SailPoint's ISO-8601 UTC timestamps (`2020-03-27T20:40:10.738Z`); None when empty or odd."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One invocation status, as much of it as recovery needs."""

    id: str
    trigger_id: str
    subscription_id: str
    type: str  # REAL_TIME | TEST
    created: datetime
    completed: datetime | None
    failed: bool
    input: dict[str, Any] = field(repr=False)

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> HistoryEntry | None:
        """None for an entry without the fields recovery relies on (logged by id, skipped)."""
        created = parse_timestamp(item.get("created"))
        start = item.get("startInvocationInput") or {}
        complete = item.get("completeInvocationInput") or {}
        payload = start.get("input") if isinstance(start, dict) else None
        if not (isinstance(item.get("id"), str) and isinstance(item.get("triggerId"), str) and created):
            return None
        return cls(
            id=item["id"],
            trigger_id=item["triggerId"],
            subscription_id=str(item.get("subscriptionId") or ""),
            type=str(item.get("type") or ""),
            created=created,
            completed=parse_timestamp(item.get("completed")),
            failed=isinstance(complete, dict) and bool(complete.get("localizedError")),
            input=payload if isinstance(payload, dict) else {},
        )


@dataclass(frozen=True, slots=True)
class Finding:
    """An entry a pass acts on: queue it, or report it as unrecoverable."""

    entry: HistoryEntry
    action: Action
    reason: str  # "failed" | "not completed" | "request-response failed"
    key: str = ""  # the idempotency key (queue only)

    def row(self) -> dict[str, str]:
        """Ids and timestamps only: what may be printed or logged (never the payload)."""
        return {
            "invocationId": self.entry.id,
            "triggerId": self.entry.trigger_id,
            "subscriptionId": self.entry.subscription_id,
            "created": self.entry.created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "action": self.action.value,
        }


@dataclass(frozen=True, slots=True)
class Subscriptions:
    """The subscriptions a pass looks at: id -> carries SailPoint's invocation id in its deliveries
    (EventBridge does, HTTP fire-and-forget does not). None = every subscription (HTTP assumed)."""

    carries_invocation_id: Mapping[str, bool] | None

    def covers(self, subscription_id: str) -> bool:
        return self.carries_invocation_id is None or subscription_id in self.carries_invocation_id

    def with_invocation_id(self, subscription_id: str) -> bool:
        return bool(self.carries_invocation_id and self.carries_invocation_id.get(subscription_id))


def stack_subscriptions(
    api: SailPointClient, webhook_base_url: str, trigger_id: str | None = None
) -> Subscriptions:
    """This stack's subscriptions: HTTP ones whose URL is under the stack's webhook base URL."""
    base = webhook_base_url.rstrip("/") + "/"
    found: dict[str, bool] = {}
    for subscription in api.list_subscriptions(trigger_id):
        http = subscription.get("httpConfig") or {}
        url = str(http.get("url") or "")
        if subscription.get("type", "HTTP") == "HTTP" and url.startswith(base):
            found[str(subscription["id"])] = False
    return Subscriptions(found)


@dataclass
class HistoryRead:
    """What paging the history found, and what it cost."""

    entries: list[HistoryEntry]
    calls: int
    total_seen: int
    reached_window_start: bool  # an entry older than the window start was seen (or the list ended short)

    @property
    def truncated(self) -> bool:
        """The history held its 2000-entry cap and ended inside the window: older failures in the
        window may have been pushed out (the tenant keeps no more than 2000)."""
        return self.total_seen >= HISTORY_CAP and not self.reached_window_start


def read_history(
    api: SailPointClient, window_start: datetime, trigger_id: str | None = None, page_size: int = PAGE_SIZE
) -> HistoryRead:
    """Page the history newest first down to `window_start`. Newest first, so entries added while
    paging shift older ones to later pages (seen twice, deduplicated) rather than out of reach."""
    seen: dict[str, HistoryEntry] = {}
    calls = total = 0
    offset = 0
    reached = False
    while offset < HISTORY_CAP:
        params: dict[str, Any] = {"limit": page_size, "offset": offset, "sorters": "-created"}
        if trigger_id:
            params["filters"] = f'triggerId eq "{trigger_id}"'
        page = api.request("GET", api.path("invocations", "/status"), params=params) or []
        calls += 1
        total += len(page)
        for item in page:
            entry = HistoryEntry.from_api(item) if isinstance(item, dict) else None
            if entry is None:
                logger.warning("history entry skipped: no id, triggerId or created", extra={"offset": offset})
                continue
            if entry.created < window_start:
                reached = True
                continue
            seen.setdefault(entry.id, entry)
        if reached or len(page) < page_size:
            reached = reached or (len(page) < page_size and total < HISTORY_CAP)
            break
        offset += page_size
    return HistoryRead(sorted(seen.values(), key=lambda e: e.created), calls, total, reached)


def trigger_types(extra: Mapping[str, TriggerType] | None = None) -> dict[str, TriggerType]:
    """Each trigger's type: the catalogue, plus ids the deployer configured (EXTRA_TRIGGERS)."""
    return {**{t.id: t.type for t in known_triggers().values()}, **(extra or {})}


def classify(
    entries: Iterable[HistoryEntry],
    subscriptions: Subscriptions,
    types: Mapping[str, TriggerType],
    *,
    now: datetime,
    grace: timedelta,
    include_tests: bool = False,
    retention: timedelta = HISTORY_RETENTION,
) -> list[Finding]:
    """The entries to act on, oldest first. Successful ones, other subscriptions' and (unless asked
    for) TEST ones are left alone; an unknown trigger counts as fire-and-forget (SailPoint's default).
    A failed event older than the retention is reported, not queued: the worker's idempotency
    records live about as long as the history keeps failures, so past it a copy that did get
    through could no longer be recognised."""
    findings = []
    oldest = now - retention
    for entry in entries:
        if not subscriptions.covers(entry.subscription_id):
            continue
        if entry.type != "REAL_TIME" and not (include_tests and entry.type == "TEST"):
            continue
        stuck = entry.completed is None and not entry.failed and entry.created <= now - grace
        if not (entry.failed or stuck):
            continue
        if types.get(entry.trigger_id) is TriggerType.REQUEST_RESPONSE:
            if entry.failed:
                findings.append(Finding(entry, Action.UNRECOVERABLE, "request-response failed"))
            continue
        if entry.created < oldest:
            if entry.failed:
                findings.append(Finding(entry, Action.UNRECOVERABLE, "older than the retention"))
            continue
        invocation_id = entry.id if subscriptions.with_invocation_id(entry.subscription_id) else None
        key = idempotency_key(entry.trigger_id, entry.input, invocation_id)
        findings.append(Finding(entry, Action.QUEUE, "failed" if entry.failed else "not completed", key))
    return findings


# -- state in DynamoDB ---------------------------------------------------------------------------
class ConditionFailed(Exception):
    """A conditional write lost: another pass did (or is doing) it."""


class RecoveryState(Protocol):
    """What a pass remembers between runs."""

    def last_success(self) -> datetime | None: ...

    def record_success(self, at: datetime) -> None: ...

    def done(self, item_ids: Sequence[str]) -> set[str]: ...

    def claim(self, item_id: str, now: datetime) -> bool: ...

    def confirm(self, item_ids: Sequence[str], state: str) -> None: ...

    def release(self, item_id: str) -> None: ...


class DynamoDBRecoveryState:
    """One table, key `id`: the watermark item, and one item per queued event (`queued#<key>`) or
    reported invocation (`reported#<id>`). Every write is conditional, so two passes at once agree."""

    def __init__(self, client: Any, table_name: str) -> None:
        self.client = client
        self.table = table_name

    def _conditional(self, call: Callable[..., Any], **kwargs: Any) -> None:
        try:
            call(TableName=self.table, **kwargs)
        except self.client.exceptions.ConditionalCheckFailedException:
            raise ConditionFailed from None

    def last_success(self) -> datetime | None:
        item = self.client.get_item(
            TableName=self.table, Key={"id": {"S": WATERMARK_ID}}, ConsistentRead=True
        )
        value = item.get("Item", {}).get("last_success", {}).get("S")
        return parse_timestamp(value)

    def record_success(self, at: datetime) -> None:
        """Move the watermark forward only: a slower pass that ends later never moves it back (a
        lost condition means a newer pass already recorded a later success)."""
        with contextlib.suppress(ConditionFailed):
            self._conditional(
                self.client.update_item,
                Key={"id": {"S": WATERMARK_ID}},
                UpdateExpression="SET last_success = :at, last_success_epoch = :epoch",
                ConditionExpression="attribute_not_exists(last_success_epoch) OR last_success_epoch < :epoch",
                ExpressionAttributeValues={
                    ":at": {"S": at.isoformat()},
                    ":epoch": {"N": f"{at.timestamp():.6f}"},
                },
            )

    def done(self, item_ids: Sequence[str]) -> set[str]:
        """The items already queued or reported (BatchGetItem, 100 a call): a steady pass costs a
        few reads, not one conditional write per failure still in the history."""
        found: set[str] = set()
        unique = list(dict.fromkeys(item_ids))
        for start in range(0, len(unique), 100):
            keys: dict[str, Any] = {
                self.table: {
                    "Keys": [{"id": {"S": item}} for item in unique[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            for _ in range(5):
                response = self.client.batch_get_item(RequestItems=keys)
                for item in response.get("Responses", {}).get(self.table, []):
                    if item.get("state", {}).get("S") in ("queued", "reported"):
                        found.add(item["id"]["S"])
                keys = response.get("UnprocessedKeys") or {}
                if not keys:
                    break
        return found

    def claim(self, item_id: str, now: datetime) -> bool:
        """Take `item_id` for this pass: free, or claimed by a pass whose lease ran out (it crashed
        between claiming and confirming). False when it is done or another pass holds it."""
        try:
            self._conditional(
                self.client.put_item,
                Item={
                    "id": {"S": item_id},
                    "state": {"S": "claimed"},
                    "lease_until": {"N": str(int((now + CLAIM_LEASE).timestamp()))},
                    "expiration": {"N": str(int((now + STATE_TTL).timestamp()))},
                },
                ConditionExpression="attribute_not_exists(id) OR (#state = :claimed AND lease_until < :now)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":claimed": {"S": "claimed"},
                    ":now": {"N": str(int(now.timestamp()))},
                },
            )
        except ConditionFailed:
            return False
        return True

    def confirm(self, item_ids: Sequence[str], state: str, now: datetime | None = None) -> None:
        """Mark claimed items done (`queued`/`reported`): BatchWriteItem, 25 at a time. An item left
        claimed (the write failed) is taken over after its lease: at worst queued again, which the
        worker's idempotency absorbs."""
        expiration = str(int(((now or datetime.now(UTC)) + STATE_TTL).timestamp()))
        for start in range(0, len(item_ids), 25):
            requests: dict[str, Any] = {
                self.table: [
                    {
                        "PutRequest": {
                            "Item": {
                                "id": {"S": item},
                                "state": {"S": state},
                                "expiration": {"N": expiration},
                            }
                        }
                    }
                    for item in item_ids[start : start + 25]
                ]
            }
            for _ in range(3):
                requests = self.client.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
                if not requests:
                    break

    def release(self, item_id: str) -> None:
        """Give a claim back after a failed send, so the next pass tries again."""
        with contextlib.suppress(ConditionFailed):
            self._conditional(
                self.client.delete_item,
                Key={"id": {"S": item_id}},
                ConditionExpression="#state = :claimed",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":claimed": {"S": "claimed"}},
            )


class Sender(Protocol):
    def send_batch(self, messages: Sequence[QueuedInvocation]) -> list[str | None]: ...


# -- one pass ------------------------------------------------------------------------------------
@dataclass
class PassReport:
    """What one pass did; the function turns it into metrics, the ops command into lines."""

    window_start: datetime
    history_calls: int = 0
    entries_seen: int = 0
    findings: list[Finding] = field(default_factory=list)
    queued: list[Finding] = field(default_factory=list)
    already_done: int = 0  # queued or reported by an earlier (or concurrent) pass
    unrecoverable: list[Finding] = field(default_factory=list)  # newly reported
    send_failures: int = 0
    truncated: bool = False
    gap: tuple[datetime, datetime] | None = None  # (last success, now) when longer than the retention
    dry_run: bool = False

    @property
    def complete(self) -> bool:
        return self.send_failures == 0

    def metrics(self) -> dict[str, float]:
        """Metric name -> value (Count), published by the reconciler function."""
        return {
            "RecoveryPasses": 1.0 if self.complete else 0.0,
            "RecoveredInvocationsQueued": float(len(self.queued)),
            "UnrecoverableInvocations": float(len(self.unrecoverable)),
            "RecoverySendFailures": float(self.send_failures),
            "RecoveryHistoryTruncated": 1.0 if self.truncated else 0.0,
            "RecoveryGap": 1.0 if self.gap else 0.0,
            "RecoveryHistoryCalls": float(self.history_calls),
        }

    def summary(self) -> dict[str, Any]:
        return {
            "windowStart": self.window_start.isoformat(),
            "historyCalls": self.history_calls,
            "entriesSeen": self.entries_seen,
            "found": len(self.findings),
            "queued": len(self.queued),
            "alreadyDone": self.already_done,
            "unrecoverable": len(self.unrecoverable),
            "sendFailures": self.send_failures,
            "truncated": self.truncated,
            "gap": [moment.isoformat() for moment in self.gap] if self.gap else None,
            "dryRun": self.dry_run,
        }


@dataclass
class Reconciler:
    """One pass over the history; the same code runs on the schedule and from `idn-triggers-ops`."""

    api: SailPointClient
    subscriptions: Callable[[], Subscriptions]
    state: RecoveryState | None  # None: dry run, nothing is written or queued
    sender: Sender | None
    types: Mapping[str, TriggerType] = field(default_factory=trigger_types)
    grace: timedelta = timedelta(minutes=15)
    lookback: timedelta = timedelta(hours=2)
    retention: timedelta = HISTORY_RETENTION
    include_tests: bool = False
    trigger_id: str | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def window_start(self, now: datetime, last_success: datetime | None, since: timedelta | None) -> datetime:
        """From `since` ago when given; else from the last success minus `lookback` (late failures of
        invocations in flight then), reaching `lookback` past the retention at most: what a tenant
        still lists beyond it is reported as unrecoverable."""
        oldest = now - self.retention - self.lookback
        if since is not None:
            return now - since
        if last_success is None:
            return oldest
        return max(oldest, last_success - self.lookback)

    def run(self, since: timedelta | None = None) -> PassReport:
        now = self.clock()
        last_success = self.state.last_success() if self.state else None
        report = PassReport(self.window_start(now, last_success, since), dry_run=self.state is None)
        if last_success is not None and now - last_success > self.retention:
            report.gap = (last_success, now)
            logger.error(
                "recovery gap: no successful pass for longer than the history keeps failed invocations; "
                "events that failed in the gap may be lost beyond recovery",
                extra={"last_success": last_success.isoformat(), "now": now.isoformat()},
            )
        scope = self._with_family_fallback(self.subscriptions)
        history = read_history(self.api, report.window_start, self.trigger_id)
        report.history_calls, report.entries_seen = history.calls, history.total_seen
        report.truncated = history.truncated
        if history.truncated:
            logger.warning(
                "the invocation history is at its 2000-entry cap inside the window: older failures may "
                "have been pushed out of it (more than 2000 invocations in the window)",
                extra={"window_start": report.window_start.isoformat()},
            )
        report.findings = classify(
            history.entries,
            scope,
            self.types,
            now=now,
            grace=self.grace,
            include_tests=self.include_tests,
            retention=self.retention,
        )
        if self.state is None or self.sender is None:
            return report
        done = self.state.done([_item(finding) for finding in report.findings])
        to_claim: list[Finding] = []
        for finding in report.findings:
            if _item(finding) in done:
                report.already_done += 1
            elif finding.action is Action.UNRECOVERABLE:
                self._report_unrecoverable(finding, report, now)
            else:
                to_claim.append(finding)
        state = self.state
        with ThreadPoolExecutor(max_workers=CLAIM_THREADS) as pool:  # one conditional write each
            won = list(pool.map(lambda finding: state.claim(_item(finding), now), to_claim))
        claimed = [finding for finding, ok in zip(to_claim, won, strict=True) if ok]
        report.already_done += len(to_claim) - len(claimed)
        for batch in _batches(claimed, now):
            self._queue(batch, report, now)
        if report.complete:
            self.state.record_success(now)
        return report

    def _with_family_fallback(self, call: Callable[[], Subscriptions]) -> Subscriptions:
        """The `/v1` paths, or the legacy `/beta` ones on a tenant that does not serve `/v1`."""
        try:
            return call()
        except SailPointNotFound:
            if self.api.family != "v1":
                raise
            logger.info("the tenant does not serve /v1 trigger paths; using /beta")
            self.api.family = "beta"
            return call()

    def _report_unrecoverable(self, finding: Finding, report: PassReport, now: datetime) -> None:
        """Log and count it once (`reported#<id>`): the alarm fires once per invocation."""
        assert self.state is not None
        entry = finding.entry
        item = f"reported#{entry.id}"
        if not self.state.claim(item, now):
            report.already_done += 1
            return
        self.state.confirm([item], "reported")
        report.unrecoverable.append(finding)
        logger.error(
            "unrecoverable invocation: a failed request-response invocation cannot be answered "
            "any more; a failed event older than the retention is not queued",
            extra={**_ids(entry), "invocation_created": finding.row()["created"], "reason": finding.reason},
        )

    def _queue(
        self, batch: list[tuple[Finding, QueuedInvocation]], report: PassReport, now: datetime
    ) -> None:
        """Send claimed findings in one SendMessageBatch, confirm the sent ones, release the rest."""
        assert self.state is not None and self.sender is not None
        try:
            sent = self.sender.send_batch([message for _, message in batch])
        except Exception as error:  # the claims go back; the next pass tries again
            logger.error("could not queue recovered invocations", extra={"error_type": type(error).__name__})
            sent = [None] * len(batch)
        confirmed = []
        for (finding, _), message_id in zip(batch, sent, strict=True):
            item = f"queued#{finding.key}"
            if message_id is None:
                self.state.release(item)
                report.send_failures += 1
                logger.error(
                    "recovered invocation not queued; the next pass retries", extra=_ids(finding.entry)
                )
                continue
            confirmed.append(item)
            report.queued.append(finding)
            logger.info(
                "recovered invocation queued", extra={**_ids(finding.entry), "reason": finding.reason}
            )
        if confirmed:
            self.state.confirm(confirmed, "queued")


def _item(finding: Finding) -> str:
    """The state item of a finding: one per event queued, one per invocation reported."""
    if finding.action is Action.QUEUE:
        return f"queued#{finding.key}"
    return f"reported#{finding.entry.id}"


def _ids(entry: HistoryEntry) -> dict[str, str]:
    return {
        "invocation_id": entry.id,
        "trigger_id": entry.trigger_id,
        "subscription_id": entry.subscription_id,
    }


def _batches(claimed: list[Finding], now: datetime) -> Iterator[list[tuple[Finding, QueuedInvocation]]]:
    """Messages in SendMessageBatch-sized groups: 10 at most, under 256 KiB together."""
    batch: list[tuple[Finding, QueuedInvocation]] = []
    size = 0
    for finding in claimed:
        entry = finding.entry
        message = recovered_invocation(entry.trigger_id, entry.id, entry.input, finding.key, now)
        length = len(message.model_dump_json()) + 1024  # the attributes, generously
        if batch and (len(batch) == SQS_BATCH or size + length > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append((finding, message))
        size += length
    if batch:
        yield batch


def rows(findings: Iterable[Finding]) -> Iterator[dict[str, str]]:
    for finding in findings:
        yield finding.row()
