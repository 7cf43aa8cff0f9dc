"""boto3 clients made on first use: boto3's import and a client's creation cost cold-start time that
a function not using them should not pay."""

from __future__ import annotations

import threading
from typing import Any

# boto3's default session is not thread-safe while it builds a client, and the worker's records
# run in threads: one client is built at a time.
_BUILDING = threading.Lock()


def dynamodb() -> Any:
    """A DynamoDB client (the rate budget and the trigger controls each keep theirs)."""
    with _BUILDING:
        import boto3

        return boto3.client("dynamodb")
