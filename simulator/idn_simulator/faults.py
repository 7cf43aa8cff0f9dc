"""Fault injection: make the tenant misbehave on purpose, for the next N matching requests, or at
random for a share of them.

Four scopes: ``completions`` (POST .../{id}/complete), ``requests`` (every API request except
the token endpoint and the ``/_sim`` admin endpoints), ``token`` (POST /oauth/token) and
``deliveries`` (the tenant's POSTs to subscription URLs: a ``status`` is recorded as the answer
without delivering, ``reset`` as a refused connection, ``delivered`` delivers and then records a
timeout, as when the subscriber processed the event too slowly). A fault
delays the request, answers it with an error status (429 carries Retry-After), or both; or it
resets the connection without any answer. A failed request has no effect on the tenant's state,
so a client's retry can succeed. Queued faults (``add``) come first; when none is pending, a scope
with a random rate (``set_random``) draws one of its faults with that probability.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .api_errors import ApiError, error_response, too_many_requests

SCOPES = ("completions", "requests", "token", "deliveries")


class ConnectionDropped(Exception):
    """Raised by the server for a ``reset`` fault: close the connection without answering."""


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one request: wait ``delay_seconds``, then reset the connection if ``reset``,
    else answer ``status`` if set."""

    status: int | None = None
    retry_after: int | None = None
    delay_seconds: float = 0.0
    reset: bool = False
    delivered: bool = False  # deliveries only: POST it, then record the invocation as timed out

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
    """Queues of pending faults per scope, and random faults; thread-safe, one per matching request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Fault]] = {scope: deque() for scope in SCOPES}
        self._random: dict[str, tuple[float, tuple[Fault, ...]]] = {}
        self._rng = random.Random()  # noqa: S311 - fault injection, not cryptography

    @staticmethod
    def _check(scope: str, fault: Fault) -> None:
        if scope not in SCOPES:
            raise ValueError(f"unknown fault scope {scope!r}; use one of {', '.join(SCOPES)}")
        if fault.status is not None and not 400 <= fault.status <= 599:
            raise ValueError("status must be a 4xx or 5xx code")
        if fault.delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")

    def add(self, scope: str, count: int, fault: Fault) -> None:
        """Apply ``fault`` to the next ``count`` requests of ``scope``."""
        self._check(scope, fault)
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._queues[scope].extend([fault] * count)

    def set_random(self, scope: str, rate: float, faults: Sequence[Fault], seed: int | None = None) -> None:
        """From now on, each request of ``scope`` with no queued fault gets one of ``faults`` (drawn
        uniformly) with probability ``rate``; rate 0 stops it. ``seed`` makes the draws repeatable."""
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        if rate and not faults:
            raise ValueError("give at least one fault to draw from")
        for fault in faults:
            self._check(scope, fault)
        with self._lock:
            if seed is not None:
                self._rng.seed(seed)
            if rate:
                self._random[scope] = (rate, tuple(faults))
            else:
                self._random.pop(scope, None)

    def reset_next_completions(self, count: int = 1) -> None:
        """Drop the connection of the next ``count`` completion requests without answering them."""
        self.add("completions", count, Fault(reset=True))

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
        """The fault for the current request of ``scope``: a queued one, else maybe a random one."""
        with self._lock:
            queue = self._queues[scope]
            if queue:
                return queue.popleft()
            if scope in self._random:
                rate, faults = self._random[scope]
                if self._rng.random() < rate:
                    return self._rng.choice(faults)
            return None

    def clear(self) -> None:
        with self._lock:
            for queue in self._queues.values():
                queue.clear()
            self._random.clear()

    def pending(self) -> dict[str, list[dict[str, Any]]]:
        """Pending (queued) faults per scope, for GET /_sim/faults."""
        with self._lock:
            return {scope: [asdict(fault) for fault in queue] for scope, queue in self._queues.items()}
