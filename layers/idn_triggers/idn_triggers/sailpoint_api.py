"""SailPoint's trigger APIs: one session per container, explicit timeouts, typed errors.

`429` is honoured by sleeping `Retry-After` (bounded retries); `401` gets one token refresh and one
retry; other errors become a `SailPointApiError` subclass carrying SailPoint's own message, so
callers (the CLI, the custom resource, the rotator) can say what went wrong and how to fix it.
Paths are the per-service `/v1` family; the legacy `/beta` family is the one fallback, for tenants
that do not serve `/v1` yet (`--api beta`, and the reconciler when `/v1` answers 404). Each call
first takes its turn from the shared SailPoint budget (`idn_triggers.rate_budget`) when one is
given; a response marked `X-Deprecated: true` is noted in `idn_triggers.deprecations`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import quote

import requests

from idn_triggers.deprecations import DEPRECATIONS
from idn_triggers.http_answers import error_text, retry_after_seconds
from idn_triggers.rate_budget import Budget, BudgetExhausted
from idn_triggers.tokens import TokenSource, TokenUnavailable

Family = Literal["v1", "beta"]
_PATHS: dict[str, dict[Family, str]] = {
    "triggers": {"v1": "/triggers/v1", "beta": "/beta/triggers"},
    "subscriptions": {"v1": "/trigger-subscriptions/v1", "beta": "/beta/trigger-subscriptions"},
    "invocations": {"v1": "/trigger-invocations/v1", "beta": "/beta/trigger-invocations"},
}


def _segment(identifier: str) -> str:
    """`/{identifier}` as one path segment: `/`, `?`, `#` and `%` escaped, and no dot segment (requests
    resolves `..`, so `delete ../x` would have reached another path)."""
    if identifier.strip(".") == "":
        raise SailPointRejected(f"not an id: {identifier!r}", 400)
    return "/" + quote(identifier, safe="")


def http_config(subscription: dict[str, Any]) -> dict[str, Any]:
    """A subscription's `httpConfig`, `{}` when absent or null (every EVENTBRIDGE subscription in the
    tenant, anyone's, has none); its auth configs and their secrets are answered as null too."""
    config = subscription.get("httpConfig")
    return config if isinstance(config, dict) else {}


def webhook_url(subscription: dict[str, Any]) -> str:
    """Where an HTTP subscription delivers; "" for one without an `httpConfig.url`."""
    url = http_config(subscription).get("url")
    return url if isinstance(url, str) else ""


class SailPointApiError(Exception):
    """The tenant answered with an error (or could not be reached)."""

    def __init__(self, message: str, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class SailPointUnavailable(SailPointApiError):
    """Network failure, timeout or 5xx after retries."""


class SailPointUnauthorized(SailPointApiError):
    """401 even with a fresh token: wrong client credentials or a revoked client."""


class SailPointForbidden(SailPointApiError):
    """403: the API client lacks a scope or user level."""


class SailPointNotFound(SailPointApiError):
    """404: no such subscription, trigger or invocation (or the path family is not served)."""


class SailPointRateLimited(SailPointApiError):
    """429 persisted through every retry."""


class SailPointRejected(SailPointApiError):
    """400 and other 4xx: the request was understood and refused."""


_BY_STATUS: dict[int, type[SailPointApiError]] = {
    401: SailPointUnauthorized,
    403: SailPointForbidden,
    404: SailPointNotFound,
    429: SailPointRateLimited,
}


class SailPointClient:
    """A small, typed client for the trigger APIs of one tenant."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        *,
        family: Family = "v1",
        session: requests.Session | None = None,
        timeout: float = 10.0,
        max_retries: int = 3,
        max_wait_seconds: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        budget: Budget | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.budget = budget
        self.tokens = tokens
        self.family: Family = family
        self.session = session or requests.Session()
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_wait_seconds = max_wait_seconds
        self._sleep = sleep

    def path(self, resource: str, suffix: str = "") -> str:
        return _PATHS[resource][self.family] + suffix

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """Send one call with the retry rules above; the decoded JSON body (None for 204)."""
        refreshed = False
        attempt = 0
        while True:
            try:
                token = self.tokens.token()
            except TokenUnavailable as error:
                raise SailPointUnavailable(f"no access token: {error}") from None
            try:
                if self.budget is not None:
                    self.budget.take(path)
            except BudgetExhausted as exhausted:
                if attempt < self.max_retries:
                    attempt += 1
                    self._sleep(min(self.max_wait_seconds, exhausted.retry_after))
                    continue
                raise SailPointRateLimited(f"{method} {path}: {exhausted}", 429) from None
            try:
                response = self.session.request(
                    method,
                    f"{self.base_url}{path}",
                    json=json,
                    params=params,
                    timeout=self.timeout,
                    allow_redirects=False,  # the access token goes to the tenant only
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": content_type,
                        "Accept": "application/json",
                    },
                )
            except requests.RequestException as error:
                if attempt < self.max_retries:
                    attempt += 1
                    self._sleep(min(self.max_wait_seconds, 2.0**attempt / 4))
                    continue
                raise SailPointUnavailable(
                    f"{method} {path}: tenant unreachable ({type(error).__name__})"
                ) from None
            DEPRECATIONS.note(method, path, response.headers)
            status = response.status_code
            if status == 401 and not refreshed:
                self.tokens.invalidate(token)
                refreshed = True
                continue
            if (status == 429 or status >= 500) and attempt < self.max_retries:
                attempt += 1
                wait = retry_after_seconds(response.headers.get("Retry-After")) or 2.0**attempt / 4
                self._sleep(min(self.max_wait_seconds, wait))
                continue
            if status >= 400:
                detail = error_text(response)
                kind = _BY_STATUS.get(status, SailPointUnavailable if status >= 500 else SailPointRejected)
                raise kind(
                    f"{method} {path}: HTTP {status}" + (f": {detail}" if detail else ""), status, detail
                )
            return response.json() if response.content else None

    # -- triggers and subscriptions -------------------------------------------------------
    def list_triggers(self) -> list[dict[str, Any]]:
        return list(self.request("GET", self.path("triggers"), params={"limit": 250}))

    def list_subscriptions(self, trigger_id: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 250}
        if trigger_id:
            params["filters"] = f'triggerId eq "{trigger_id}"'
        return list(self.request("GET", self.path("subscriptions"), params=params))

    def get_subscription(self, subscription_id: str) -> dict[str, Any]:
        """The API has no GET by id: list with an `id eq` filter."""
        found = self.request(
            "GET", self.path("subscriptions"), params={"filters": f'id eq "{subscription_id}"'}
        )
        matches = [s for s in found if s.get("id") == subscription_id]
        if not matches:
            raise SailPointNotFound(f"subscription {subscription_id} not found", 404)
        return dict(matches[0])

    def create_subscription(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.request("POST", self.path("subscriptions"), json=body))

    def replace_subscription(self, subscription_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.request("PUT", self.path("subscriptions", _segment(subscription_id)), json=body))

    def patch_subscription(self, subscription_id: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(
            self.request(
                "PATCH",
                self.path("subscriptions", _segment(subscription_id)),
                json=operations,
                content_type="application/json-patch+json",
            )
        )

    def delete_subscription(self, subscription_id: str) -> None:
        self.request("DELETE", self.path("subscriptions", _segment(subscription_id)))

    def validate_filter(self, filter_expression: str, payload: Any) -> dict[str, Any]:
        return dict(
            self.request(
                "POST",
                self.path("subscriptions", "/validate-filter"),
                json={"input": payload, "filter": filter_expression},
            )
        )

    # -- invocations ----------------------------------------------------------------------
    def test_invocation(
        self, trigger_id: str, payload: Any = None, subscription_ids: list[str] | None = None
    ) -> Any:
        body: dict[str, Any] = {"triggerId": trigger_id, "contentJson": {}}
        if payload is not None:
            body["input"] = payload
        if subscription_ids:
            body["subscriptionIds"] = subscription_ids
        return self.request("POST", self.path("invocations", "/test"), json=body)

    def invocation_statuses(self, trigger_id: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 250}
        if trigger_id:
            params["filters"] = f'triggerId eq "{trigger_id}"'
        return list(self.request("GET", self.path("invocations", "/status"), params=params))
