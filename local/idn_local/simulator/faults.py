"""Fault injection: make the tenant misbehave on purpose, for the next N matching requests.

Three scopes: ``completions`` (POST .../{id}/complete), ``requests`` (every API request except
the token endpoint and the ``/_sim`` admin endpoints) and ``token`` (POST /oauth/token). A fault
delays the request, answers it with an error status (429 carries Retry-After), or both. A failed
request has no effect on the tenant's state, so a client's retry can succeed.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from .errors import ApiError, error_response, too_many_requests

SCOPES = ("completions", "requests", "token")


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one request: wait ``delay_seconds``, then answer ``status`` if set."""

    status: int | None = None
    retry_after: int | None = None
    delay_seconds: float = 0.0

    def error(self) -> ApiError | None:
        """The answer this fault forces, or None when it only delays."""
        if self.status is None:
            return None
        if self.status == 429:
            return too_many_requests(self.retry_after or 1)
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after else {}
        return ApiError(
            self.status, "injected fault", body=error_response(self.status, "injected fault"), headers=headers
        )


class Faults:
    """Queues of pending faults per scope; thread-safe, consumed one per matching request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Fault]] = {scope: deque() for scope in SCOPES}

    def add(self, scope: str, count: int, fault: Fault) -> None:
        """Apply ``fault`` to the next ``count`` requests of ``scope``."""
        if scope not in self._queues:
            raise ValueError(f"unknown fault scope {scope!r}; use one of {', '.join(SCOPES)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        if fault.status is not None and not 400 <= fault.status <= 599:
            raise ValueError("status must be a 4xx or 5xx code")
        if fault.delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")
        with self._lock:
            self._queues[scope].extend([fault] * count)

    def fail_next_completions(
        self, count: int = 1, status: int = 500, retry_after: int | None = None
    ) -> None:
        """Answer the next ``count`` completion requests with ``status``."""
        self.add("completions", count, Fault(status=status, retry_after=retry_after))

    def delay_next_completions(self, count: int = 1, seconds: float = 1.0) -> None:
        """Hold the next ``count`` completion requests for ``seconds`` before handling them."""
        self.add("completions", count, Fault(delay_seconds=seconds))

    def fail_next_requests(self, count: int = 1, status: int = 503, retry_after: int | None = None) -> None:
        """Answer the next ``count`` API requests (any endpoint but the token one) with ``status``."""
        self.add("requests", count, Fault(status=status, retry_after=retry_after))

    def throttle_next_requests(self, count: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``count`` API requests 429 with ``Retry-After: retry_after``."""
        self.add("requests", count, Fault(status=429, retry_after=retry_after))

    def fail_next_token_requests(
        self, count: int = 1, status: int = 500, retry_after: int | None = None
    ) -> None:
        """Answer the next ``count`` token requests with ``status``."""
        self.add("token", count, Fault(status=status, retry_after=retry_after))

    def take(self, scope: str) -> Fault | None:
        """The fault for the current request of ``scope``, if one is pending."""
        with self._lock:
            queue = self._queues[scope]
            return queue.popleft() if queue else None

    def clear(self) -> None:
        with self._lock:
            for queue in self._queues.values():
                queue.clear()

    def pending(self) -> dict[str, list[dict[str, Any]]]:
        """Pending faults per scope, for GET /_sim/faults."""
        with self._lock:
            return {scope: [asdict(fault) for fault in queue] for scope, queue in self._queues.items()}
