"""SailPoint access tokens for outbound calls (completions, API calls).

`ClientCredentialsTokenProvider` runs the OAuth client-credentials grant itself and keeps the token
in memory until shortly before it expires; one refresh at a time per container (single flight).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from idn_triggers.errors import ConfigurationError

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
        raise ConfigurationError(f"secret {secret_id} must hold clientId and clientSecret; bad or missing: {keys}") from None


class ClientCredentialsTokenProvider:
    """Bearer tokens from `POST {tenant}/oauth/token`, cached until `expires_in` minus a margin."""

    def __init__(self, tenant_api_url: str, credentials: Callable[[], ClientCredentials],
                 session: requests.Session | None = None, timeout: float = 5.0) -> None:
        self.token_url = tenant_api_url.rstrip("/") + "/oauth/token"
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
        credentials = self._credentials()
        self.requests_made += 1
        try:
            response = self._session.post(
                self.token_url,
                data={"grant_type": "client_credentials", "client_id": credentials.client_id,
                      "client_secret": credentials.client_secret.get_secret_value()},
                timeout=self._timeout,
            )
        except requests.RequestException as error:
            raise TokenUnavailable(f"token endpoint unreachable ({type(error).__name__})") from None
        if response.status_code != 200:
            raise TokenUnavailable(f"token endpoint answered HTTP {response.status_code}")
        try:
            body = response.json()
            token, lifetime = str(body["access_token"]), float(body.get("expires_in", 0))
        except (ValueError, KeyError, TypeError):
            raise TokenUnavailable("token endpoint answered without a usable access_token") from None
        self._token, self._expires_at = token, time.time() + lifetime
        return token
