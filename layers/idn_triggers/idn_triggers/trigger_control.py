"""Per-trigger controls that protect the customer's downstream systems: a rate limit, pause and
resume, and a circuit breaker. One DynamoDB table (`TriggerControlTable`) holds all three:

- `trigger#<id>` / `state`: paused or not, why, since when, consecutive handler failures;
- `trigger#<id>` / `rate#<window>`: handler starts in one rate window (TTL);
- `trigger#<id>` / `next`: the next free start slot, to say how long a throttled event waits;
- `held#<id>` / `<received>#<key>`: an event of a paused trigger, kept (no TTL) until resumed.

The worker asks `gate()` right before it runs a handler. A paused trigger's event is *held*
(parked in the table, then deleted from the queue): other triggers keep flowing, nothing is failed,
nothing burns a receive count. Over its rate, an event is re-queued with a delay to its slot (a
fresh copy: the receive count that leads to the DLQ is not touched). After `breaker_after`
consecutive handler failures a trigger pauses itself (reason `circuit breaker`) and alarms; it
stays paused until an operator resumes it (`idn-triggers-ops triggers resume`), which re-queues
what was held, in arrival order, for the worker's rate limit to pace. docs/architecture.md says why.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from idn_triggers import aws_clients

logger = Logger()
BREAKER_REASON = "circuit breaker"
_RATE = re.compile(r"^\s*(?P<limit>\d+)\s*/\s*(?P<unit>s|sec|second|m|min|minute)\s*$", re.IGNORECASE)
RATE_ITEM_LIFETIME = 300


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `limit` handler starts per `window` seconds (aligned windows of the wall clock)."""

    limit: int
    window: int

    def __str__(self) -> str:
        return f"{self.limit}/{'s' if self.window == 1 else 'm'}"


def parse_rate_limits(value: Any) -> dict[str, Rate]:
    """`TRIGGER_RATE_LIMITS="idn:identity-attributes-changed=5/s,idn:account-created=30/m"`."""
    if not value:
        return {}
    if isinstance(value, dict):
        return value
    limits: dict[str, Rate] = {}
    for item in str(value).split(","):
        if not item.strip():
            continue
        trigger_id, _, rate = item.partition("=")
        match = _RATE.match(rate)
        if not trigger_id.strip() or match is None or int(match["limit"]) < 1:
            raise ValueError(f"{item.strip()!r}: expected <trigger id>=<n>/s or <n>/m, n >= 1")
        window = 1 if match["unit"].lower().startswith("s") else 60
        limits[trigger_id.strip()] = Rate(int(match["limit"]), window)
    return limits


@dataclass(frozen=True, slots=True)
class TriggerState:
    trigger_id: str
    paused: bool = False
    reason: str = ""
    since: str = ""
    failures: int = 0


class Parked(Exception):
    """The event must not run now: held (paused trigger) or re-queued after `delay` (rate)."""

    def __init__(self, reason: str, *, hold: bool = False, delay: float = 0.0) -> None:
        super().__init__(reason)
        self.hold = hold
        self.delay = delay


class TriggerControls:
    """One per container (worker) or per command (operator tools); thread-safe."""

    def __init__(
        self,
        table: str,
        *,
        rates: dict[str, Rate] | None = None,
        breaker_after: int = 0,
        cache_seconds: float = 5.0,
        client: Any = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table = table
        self.rates = rates or {}
        self.breaker_after = breaker_after
        self.cache_seconds = cache_seconds
        self._client = aws_clients.BuiltOnce(aws_clients.dynamodb, client)
        self._clock = clock
        self._sleep = sleep
        self._cache: dict[str, tuple[float, TriggerState]] = {}

    def _dynamodb(self) -> Any:
        return self._client.get()

    # -- the worker -----------------------------------------------------------------------
    def gate(self, trigger_id: str) -> None:
        """Return if the handler may start now; raise Parked otherwise."""
        state = self.state(trigger_id)
        if state.paused:  # confirmed by a consistent read: an event held after a resume's drain would wait
            state = self.state(trigger_id, fresh=True)  # for the next resume, so the cache never holds one
        if state.paused:
            raise Parked(f"trigger paused ({state.reason})", hold=True)
        rate = self.rates.get(trigger_id)
        if rate is None:
            return
        for _ in range(4):  # this window, or the next if it is less than a second away
            now = self._clock()
            window = int(now // rate.window)
            if self._take_turn(trigger_id, rate, window):
                if int(self._clock() // rate.window) == window:
                    return
                continue  # the window ended during the write: that turn is spent, take one in this one
            wait = (window + 1) * rate.window - now
            if wait > 1.0:
                break
            self._sleep(wait + 0.001)
        raise Parked(f"over its rate of {rate}", delay=self._next_slot(trigger_id, rate))

    def _take_turn(self, trigger_id: str, rate: Rate, window: int) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._dynamodb().update_item(
                TableName=self.table,
                Key=_key(f"trigger#{trigger_id}", f"rate#{window}"),
                UpdateExpression="ADD n :one SET expires_at = :ttl",
                ConditionExpression="attribute_not_exists(n) OR n < :limit",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(rate.limit)},
                    ":ttl": {"N": str(int(self._clock()) + RATE_ITEM_LIFETIME)},
                },
            )
            return True
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise

    def _next_slot(self, trigger_id: str, rate: Rate) -> float:
        """Seconds until this event's start slot: one slot of `window/limit` per waiting event."""
        from botocore.exceptions import ClientError

        now = self._clock()
        spacing = rate.window / rate.limit
        key = _key(f"trigger#{trigger_id}", "next")
        try:  # nobody waiting: the first slot is the next window
            first = math.floor(now / rate.window + 1) * rate.window
            self._dynamodb().update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET slot = :first, expires_at = :ttl",
                ConditionExpression="attribute_not_exists(slot) OR slot < :now",
                ExpressionAttributeValues={
                    ":first": {"N": repr(first + spacing)},
                    ":now": {"N": repr(now)},
                    ":ttl": {"N": str(int(now) + 86400)},
                },
            )
            return first - now
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
        answer = self._dynamodb().update_item(
            TableName=self.table,
            Key=key,
            UpdateExpression="ADD slot :spacing",
            ExpressionAttributeValues={":spacing": {"N": repr(spacing)}},
            ReturnValues="UPDATED_NEW",
        )
        return max(0.0, float(answer["Attributes"]["slot"]["N"]) - spacing - now)

    def hold(self, trigger_id: str, received_at: datetime, key: str, body: str) -> None:
        """Keep a paused trigger's event until it is resumed (no TTL: kept as long as it takes)."""
        self._dynamodb().put_item(
            TableName=self.table,
            Item={
                **_key(f"held#{trigger_id}", f"{received_at.isoformat()}#{key}"),
                "body": {"S": body},
                "held_at": {"S": datetime.now(UTC).isoformat()},
            },
        )

    def handler_succeeded(self, trigger_id: str) -> None:
        """Reset the consecutive-failure count (only when this container saw one)."""
        if not self.breaker_after or self.state(trigger_id).failures == 0:
            return
        self._dynamodb().update_item(
            TableName=self.table,
            Key=_key(f"trigger#{trigger_id}", "state"),
            UpdateExpression="SET failures = :zero",
            ExpressionAttributeValues={":zero": {"N": "0"}},
        )
        self._forget(trigger_id)

    def handler_failed(self, trigger_id: str) -> bool:
        """Count one failure; True when this one opened the breaker (the trigger is now paused)."""
        if not self.breaker_after:
            return False
        answer = self._dynamodb().update_item(
            TableName=self.table,
            Key=_key(f"trigger#{trigger_id}", "state"),
            UpdateExpression="ADD failures :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )
        item = answer["Attributes"]
        self._forget(trigger_id)
        if int(item["failures"]["N"]) < self.breaker_after or item.get("paused", {}).get("BOOL"):
            return False
        self.pause(trigger_id, BREAKER_REASON)
        count_breaker_opened(trigger_id)
        logger.error(
            "circuit breaker opened: the trigger is paused until resumed",
            extra={"trigger_id": trigger_id, "consecutive_failures": int(item["failures"]["N"])},
        )
        return True

    # -- state, pause and resume ----------------------------------------------------------
    def state(self, trigger_id: str, *, fresh: bool = False) -> TriggerState:
        now = time.monotonic()
        cached = self._cache.get(trigger_id)
        if cached and not fresh and now - cached[0] < self.cache_seconds:
            return cached[1]
        item = (
            self._dynamodb()
            .get_item(TableName=self.table, Key=_key(f"trigger#{trigger_id}", "state"), ConsistentRead=True)
            .get("Item", {})
        )
        state = _state_of(trigger_id, item)
        self._cache[trigger_id] = (now, state)
        return state

    def pause(self, trigger_id: str, reason: str) -> None:
        self._dynamodb().update_item(
            TableName=self.table,
            Key=_key(f"trigger#{trigger_id}", "state"),
            UpdateExpression="SET paused = :yes, reason = :reason, since = :since",
            ExpressionAttributeValues={
                ":yes": {"BOOL": True},
                ":reason": {"S": reason},
                ":since": {"S": datetime.now(UTC).isoformat(timespec="seconds")},
            },
        )
        self._forget(trigger_id)

    def unpause(self, trigger_id: str) -> None:
        self._dynamodb().update_item(
            TableName=self.table,
            Key=_key(f"trigger#{trigger_id}", "state"),
            UpdateExpression="SET paused = :no, failures = :zero, since = :since REMOVE reason",
            ExpressionAttributeValues={
                ":no": {"BOOL": False},
                ":zero": {"N": "0"},
                ":since": {"S": datetime.now(UTC).isoformat(timespec="seconds")},
            },
        )
        self._forget(trigger_id)

    def held(self, trigger_id: str) -> Iterator[tuple[dict[str, Any], str]]:
        """(key, body) of each held event, oldest first."""
        query: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"held#{trigger_id}"}},
            "ConsistentRead": True,
        }
        while True:
            page = self._dynamodb().query(**query)
            for item in page.get("Items", []):
                yield {"pk": item["pk"], "sk": item["sk"]}, item["body"]["S"]
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def held_count(self, trigger_id: str) -> int:
        return sum(1 for _ in self.held(trigger_id))

    def release(self, key: dict[str, Any]) -> None:
        self._dynamodb().delete_item(TableName=self.table, Key=key)

    def known(self) -> list[TriggerState]:
        """Every trigger with a state item (paused, resumed, or counting failures)."""
        states = []
        scan: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "sk = :state",
            "ExpressionAttributeValues": {":state": {"S": "state"}},
        }
        while True:
            page = self._dynamodb().scan(**scan)
            states += [_state_of(item["pk"]["S"].removeprefix("trigger#"), item) for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return sorted(states, key=lambda s: s.trigger_id)
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _forget(self, trigger_id: str) -> None:
        self._cache.pop(trigger_id, None)


def drain(controls: TriggerControls, trigger_id: str, send: Callable[[str], None]) -> int:
    """Re-queue every held event of `trigger_id` (oldest first): sent, then deleted, so a failure
    in between leaves a copy in both places, which the worker's idempotency absorbs."""
    moved = 0
    for key, body in controls.held(trigger_id):
        send(body)
        controls.release(key)
        moved += 1
    return moved


def count_breaker_opened(trigger_id: str) -> None:
    """`CircuitBreakerOpened`: per trigger for the dashboard, and without it for the alarm."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name="CircuitBreakerOpened", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension("TriggerId", trigger_id)
    with single_metric(name="CircuitBreakerOpened", unit=MetricUnit.Count, value=1):
        pass


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _state_of(trigger_id: str, item: dict[str, Any]) -> TriggerState:
    return TriggerState(
        trigger_id=trigger_id,
        paused=bool(item.get("paused", {}).get("BOOL", False)),
        reason=item.get("reason", {}).get("S", ""),
        since=item.get("since", {}).get("S", ""),
        failures=int(item.get("failures", {}).get("N", "0")),
    )
