"""boto3 clients made on first use: boto3's import and a client's creation cost cold-start time that
a function not using them should not pay."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

# boto3's default session is not thread-safe while it builds a client, and the worker's records
# (and local mode's concurrent requests) run in threads: one client is built at a time, by
# `BuiltOnce` (the builders below are meant for it). Re-entrant: a builder may build another one.
_BUILDING = threading.RLock()


class BuiltOnce[T]:
    """`build()` on the first `get()`, once whatever the threads, then the same object.

    Without it, every thread that arrives before the first build finishes builds its own client:
    32 concurrent first requests to local mode's receiver each loaded botocore's models (p99 7 s)."""

    def __init__(self, build: Callable[[], T], value: T | None = None) -> None:
        self._build = build
        self._value = value

    def get(self) -> T:
        value = self._value
        if value is None:
            with _BUILDING:
                if self._value is None:
                    self._value = self._build()
                value = self._value
        return value

    @property
    def built(self) -> bool:
        return self._value is not None

    def reset(self) -> None:
        """Build again on the next `get()` (a new client with new connections)."""
        self._value = None


def dynamodb() -> Any:
    """A DynamoDB client (the rate budget and the trigger controls each keep theirs)."""
    import boto3

    return boto3.client("dynamodb")


def sqs() -> Any:
    """An SQS client."""
    import boto3

    return boto3.client("sqs")


def secrets_provider() -> Any:
    """A Powertools SecretsProvider with a client (and a cache) of its own."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider()
