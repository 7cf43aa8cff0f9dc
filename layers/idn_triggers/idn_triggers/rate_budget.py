"""SailPoint's API budget, shared by every function that calls the tenant.

SailPoint counts 100 requests per 10 s per `client_id` and API version (`/v1`, `beta`, ...) and
answers `429` + `Retry-After` beyond it. The worker, the reconciler, the token refresher, the
rotator and the subscriptions resource all spend the same client's budget, so they take their turn
from one DynamoDB counter instead of each learning the limit from 429s.

The counter is one item per client, version and wall-clock second, bumped by one conditional
`UpdateItem` (no read, no lock): `ADD n 1` if `n < per_second`. Any 10 s span touches at most 11
whole seconds, so `per_second = limit // 11` (9 for 100) can never exceed SailPoint's sliding
window, whatever the number of containers. A caller over the budget sleeps to the next second and
tries again, up to `max_wait`; then it gets `BudgetExhausted` with how long to wait (a completion
comes back later through the queue). DynamoDB trouble fails open: SailPoint's own 429 and
`Retry-After` stay honoured by every client.

Cheap at cold start: nothing heavy is imported here; the DynamoDB client is built on first use.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from idn_triggers import aws_clients

logger = Logger()
WINDOW_SECONDS = 10  # SailPoint's window
DEFAULT_LIMIT = 100  # requests per window per client_id and API version
ITEM_LIFETIME_SECONDS = 120  # the counters expire by TTL

_VERSIONED = re.compile(r"^/(?:(?P<prefix>beta|v\d+)/|[\w-]+/(?P<service>v\d+)(?:/|$))")


class BudgetExhausted(Exception):
    """No request may be sent within the caller's wait; try again after `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"SailPoint API budget used up; retry in {retry_after:.0f} s")
        self.retry_after = retry_after


class Budget(Protocol):
    """Takes one request's turn for a tenant path (`/trigger-invocations/v1/...`) before it is sent."""

    def take(self, path: str) -> None: ...


def api_version(path: str) -> str:
    """The API version SailPoint counts a request under: `v1` for `/triggers/v1/...`, `beta` for
    `/beta/...`, `v3`, `v2025`...; the OAuth grant (no version) is charged to `v1`, conservatively."""
    match = _VERSIONED.match(path)
    if match is None:
        return "v1"
    return match["prefix"] or match["service"]


def per_second_quota(limit: int, window: int = WINDOW_SECONDS) -> int:
    """Requests per wall-clock second such that no `window`-second span can exceed `limit`."""
    return max(1, limit // (window + 1))


class DynamoBudget:
    """The shared counter (see the module docstring); one per container, thread-safe."""

    def __init__(
        self,
        table: str,
        client_id: Callable[[], str],
        *,
        limit: int = DEFAULT_LIMIT,
        max_wait: float = 5.0,
        client: Any = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table = table
        self.quota = per_second_quota(limit)
        self.max_wait = max_wait
        self._client_id = client_id
        self._client = aws_clients.BuiltOnce(aws_clients.dynamodb, client)
        self._clock = clock
        self._sleep = sleep
        self.waited_seconds = 0.0  # how long callers waited for a turn (a figure for bench/storm.py)

    def _dynamodb(self) -> Any:
        return self._client.get()

    def take(self, path: str) -> None:
        """Wait for a turn for `path`'s API version; `BudgetExhausted` past `max_wait`."""
        version = api_version(path)
        started = self._clock()
        while True:
            now = self._clock()
            second = int(now)
            if self._try(version, second):
                self.waited_seconds += now - started
                return
            next_second = second + 1 - now
            if now + next_second - started > self.max_wait:
                raise BudgetExhausted(max(1.0, next_second))
            self._sleep(next_second + 0.001)

    def _try(self, version: str, second: int) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            key = f"{self._client_id()}#{version}#{second}"
        except Exception as error:  # the client secret is unreadable: the token fetch will say why
            logger.warning("SailPoint budget: no client id", extra={"error_type": type(error).__name__})
            return True
        try:
            self._dynamodb().update_item(
                TableName=self.table,
                Key={"id": {"S": key}},
                UpdateExpression="ADD n :one SET expires_at = :ttl",
                ConditionExpression="attribute_not_exists(n) OR n < :quota",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":quota": {"N": str(self.quota)},
                    ":ttl": {"N": str(second + ITEM_LIFETIME_SECONDS)},
                },
            )
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            logger.warning("SailPoint budget unavailable; sending anyway", extra={"error": str(error)[:200]})
            return True
        except BotoCoreError as error:  # unreachable, no credentials: fail open, 429s still honoured
            logger.warning(
                "SailPoint budget unavailable; sending anyway", extra={"error_type": type(error).__name__}
            )
            return True
