"""SailPoint access tokens for outbound calls (completions, API calls).

`ClientCredentialsTokenProvider` runs the OAuth client-credentials grant itself and keeps the token
in memory until shortly before it expires; one refresh at a time per container (single flight).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from idn_triggers.errors import ConfigurationError
from idn_triggers.http_answers import retry_after_seconds
from idn_triggers.rate_budget import Budget, BudgetExhausted

REFRESH_MARGIN_SECONDS = 60


class TokenUnavailable(Exception):
    """No token could be obtained right now (tenant down, refused, or answered garbage)."""


class ClientCredentials(BaseModel):
    """The API client's id and secret, as stored in their own secret."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    client_id: str = Field(alias="clientId", min_length=1)
    client_secret: SecretStr = Field(alias="clientSecret", min_length=1)


def load_client_credentials(secret_id: str, fetch: Callable[[str], Any]) -> ClientCredentials:
    """Read and validate the client secret, naming the secret and missing key on failure."""
    try:
        return ClientCredentials.model_validate(fetch(secret_id))
    except ValidationError as error:
        keys = ", ".join(str(e["loc"][0]) for e in error.errors() if e["loc"])
        raise ConfigurationError(
            f"secret {secret_id} must hold clientId and clientSecret; bad or missing: {keys}"
        ) from None


class ClientCredentialsTokenProvider:
    """Bearer tokens from `POST {tenant}/oauth/token`, cached until `expires_in` minus a margin."""

    def __init__(
        self,
        tenant_api_url: str,
        credentials: Callable[[], ClientCredentials],
        session: requests.Session | None = None,
        timeout: float = 5.0,
        budget: Budget | None = None,
    ) -> None:
        self.token_url = tenant_api_url.rstrip("/") + "/oauth/token"
        self._budget = budget
        self._credentials = credentials
        self._session = session or requests.Session()
        self._timeout = timeout
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.requests_made = 0

    def token(self) -> str:
        if self._token and time.time() < self._expires_at - REFRESH_MARGIN_SECONDS:
            return self._token
        with self._lock:  # single flight: concurrent callers wait for one grant
            if self._token and time.time() < self._expires_at - REFRESH_MARGIN_SECONDS:
                return self._token
            return self._fetch()

    def invalidate(self, token: str) -> None:
        """Forget `token` (the tenant answered 401 with it) so the next call fetches a new one."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> str:
        try:
            credentials = self._credentials()
        except ConfigurationError:  # a malformed secret: fail loudly, as at cold start
            raise
        except Exception as error:  # the secret store is down or throttling: like the tenant being down
            raise TokenUnavailable(f"client credentials unavailable ({type(error).__name__})") from None
        try:
            if self._budget is not None:
                self._budget.take("/oauth/token")
        except BudgetExhausted as error:
            raise TokenUnavailable(str(error)) from None
        self.requests_made += 1
        try:
            response = self._session.post(
                self.token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": credentials.client_id,
                    "client_secret": credentials.client_secret.get_secret_value(),
                },
                timeout=self._timeout,
                allow_redirects=False,  # a 3xx elsewhere must not receive client_secret
            )
        except requests.RequestException as error:
            raise TokenUnavailable(f"token endpoint unreachable ({type(error).__name__})") from None
        if response.status_code != 200:
            raise TokenUnavailable(f"token endpoint answered HTTP {response.status_code}")
        try:
            body = response.json()
            token, lifetime = body["access_token"], float(body.get("expires_in", 0))
            if not isinstance(token, str) or not token:  # str(None) would become the token "None"
                raise TypeError("access_token is not a non-empty string")
        except (ValueError, KeyError, TypeError):
            raise TokenUnavailable("token endpoint answered without a usable access_token") from None
        self._token, self._expires_at = token, time.time() + lifetime
        return token


def client_credentials_grant(
    tenant_api_url: str,
    credentials: ClientCredentials,
    session: requests.Session,
    *,
    timeout: float = 5.0,
    max_wait_seconds: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    budget: Budget | None = None,
) -> dict[str, Any]:
    """`POST {tenant}/oauth/token` once, honouring one `429 Retry-After` within `max_wait_seconds`.

    Returns the token response body; raises TokenUnavailable otherwise (never with the secret in it).
    """
    for attempt in range(2):
        try:
            if budget is not None:
                budget.take("/oauth/token")
        except BudgetExhausted as error:
            raise TokenUnavailable(str(error)) from None
        try:
            response = session.post(
                tenant_api_url.rstrip("/") + "/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": credentials.client_id,
                    "client_secret": credentials.client_secret.get_secret_value(),
                },
                timeout=timeout,
                allow_redirects=False,  # a 3xx elsewhere must not receive client_secret
            )
        except requests.RequestException as error:
            raise TokenUnavailable(f"token endpoint unreachable ({type(error).__name__})") from None
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if response.status_code == 429 and attempt == 0 and wait is not None and wait <= max_wait_seconds:
            sleep(wait)
            continue
        if response.status_code != 200:
            raise TokenUnavailable(f"token endpoint answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise TokenUnavailable("token endpoint answered something other than JSON") from None
        if not isinstance(body, dict):
            raise TokenUnavailable("token endpoint answered something other than a JSON object")
        return body
    raise TokenUnavailable("token endpoint kept answering 429")


class TokenSource(Protocol):
    """Anything that hands out bearer tokens and forgets one the tenant refused."""

    def token(self) -> str: ...

    def invalidate(self, token: str) -> None: ...
