"""OAuth client-credentials tokens and the rate limit, as a SailPoint tenant applies them.

Tokens are random opaque strings (real ones are JWTs; nothing may rely on parsing them). They are
compared in constant time and never logged. The rate limit is SailPoint's since 2026: a number of
requests per `client_id` and API version (`v1`, `beta`, ...) per 10 seconds (a sliding window, the
strictest reading), answered 429 with a Retry-After header in whole seconds. A new token does not
reset it.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from .api_errors import ApiError, too_many_requests, unauthorized

Clock = Callable[[], float]
RATE_WINDOW_SECONDS = 10.0


def _same(left: str, right: str) -> bool:
    return hmac.compare_digest(left.encode("utf-8"), right.encode("utf-8"))


class IssuedTokens:
    """Issues tokens to the one configured client and checks bearer headers."""

    def __init__(
        self, client_id: str, client_secret: str, lifetime: int, clock: Clock = time.monotonic
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}
        self.lifetime = lifetime

    def issue(self, client_id: str | None, client_secret: str | None) -> tuple[str, int]:
        """A new token and its lifetime in seconds; 401 (OAuth ``invalid_client``) for a wrong client."""
        if not (client_id and client_secret and _same(client_id, self._client_id)):
            raise _invalid_client()
        if not _same(client_secret, self._client_secret):
            raise _invalid_client()
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            self._expiry = {t: e for t, e in self._expiry.items() if e > now}  # forget expired ones
            self._expiry[token] = now + self.lifetime
        return token, self.lifetime

    def client_of(self, token: str) -> str:
        """The client a token was issued to (this tenant accepts one client)."""
        return self._client_id

    def authenticate(self, authorization: str | None) -> str:
        """The token from a valid ``Authorization: Bearer`` header, else the spec's 401."""
        if not authorization:
            raise unauthorized("JWT is missing")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("JWT is missing")
        with self._lock:
            expiry = self._expiry.get(token)
            now = self._clock()
        if expiry is None:
            raise unauthorized("JWT is invalid")
        if expiry <= now:
            raise unauthorized("JWT is expired")
        return token

    def expire_all(self) -> None:
        """Make every issued token expired now (clients must fetch a new one)."""
        with self._lock:
            now = self._clock()
            self._expiry = dict.fromkeys(self._expiry, now)

    def clear(self) -> None:
        with self._lock:
            self._expiry.clear()


def _invalid_client() -> ApiError:
    return ApiError(
        401,
        "bad client credentials",
        body={"error": "invalid_client", "error_description": "Bad client credentials"},
        headers={"WWW-Authenticate": 'Basic realm="oauth"'},
    )


class RateLimiter:
    """Sliding window of ``limit`` requests per key per 10 s; ``limit`` None or 0 disables it."""

    def __init__(self, limit: int | None, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}

    def check(self, key: str) -> None:
        """Count one request for ``key``; raise the spec's 429 when over the limit."""
        limit = self.limit
        if not limit:
            return
        with self._lock:
            now = self._clock()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - RATE_WINDOW_SECONDS:
                hits.popleft()
            if len(hits) >= limit:
                retry_after = math.ceil(hits[0] + RATE_WINDOW_SECONDS - now)
                raise too_many_requests(retry_after)
            hits.append(now)

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()
