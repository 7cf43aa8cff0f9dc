"""The access token every function shares, kept fresh in Secrets Manager by the token refresher.

The refresher runs every minute but writes a new `StoredToken` only once the stored one is
`MIN_WRITE_INTERVAL_SECONDS` old: Secrets Manager keeps every version younger than 24 h and asks
for PutSecretValue at most once every 10 minutes, while SailPoint's tokens live 749 s. A token
written at t is replaced between t+600 and t+660 and handed out until t+749-60; it never overwrites
a good token with a failure. Consumers read the
secret through a short in-memory cache and only run the grant themselves when the stored token is
missing or about to expire, so a broken refresher degrades to one grant per container instead of
stopping completions.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from idn_triggers import aws_clients
from idn_triggers.aws_clients import BuiltOnce
from idn_triggers.rate_budget import Budget, DynamoBudget
from idn_triggers.settings import SailPointApiSettings
from idn_triggers.tokens import (
    ClientCredentials,
    ClientCredentialsTokenProvider,
    TokenUnavailable,
    load_client_credentials,
)

logger = Logger()
SAFETY_MARGIN_SECONDS = 60  # a token closer than this to expiry is not handed out (a call takes <= 10 s)
# Secrets Manager quotas: "avoid calling PutSecretValue ... more than once every 10 minutes".
MIN_WRITE_INTERVAL_SECONDS = 600


class StoredToken(BaseModel):
    """The token secret's JSON."""

    model_config = ConfigDict(frozen=True)

    access_token: SecretStr = Field(min_length=1)
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a credential
    expires_at: float = Field(gt=0)  # epoch seconds
    scope: str | None = None
    issued_at: float | None = None  # epoch seconds; absent in tokens stored by older versions

    def usable(self, now: float | None = None, margin: float = SAFETY_MARGIN_SECONDS) -> bool:
        return self.expires_at - margin > (now if now is not None else time.time())

    def to_secret_string(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token.get_secret_value(),
                "token_type": self.token_type,
                "expires_at": self.expires_at,
                "scope": self.scope,
                "issued_at": self.issued_at,
            }
        )


def parse_stored_token(value: Any) -> StoredToken | None:
    """The stored token, or None when the secret holds nothing usable yet (e.g. `{}` at deploy)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    try:
        return StoredToken.model_validate(value)
    except ValidationError:
        return None


class StoredTokenProvider:
    """`token()` for consumers: the stored token if usable, else a grant of our own (single flight).

    `read_secret(force)` returns the secret's current JSON; in Lambda it is Powertools' cached
    `get_secret` (force bypasses the cache after a 401).
    """

    def __init__(
        self,
        read_secret: Callable[[bool], Any],
        fallback: ClientCredentialsTokenProvider,
        margin: float = SAFETY_MARGIN_SECONDS,
    ) -> None:
        self._read = read_secret
        self._fallback = fallback
        self._margin = margin
        self._rejected: set[str] = set()
        self._lock = threading.Lock()
        self.stored_reads = 0
        self.fallback_grants = 0

    def token(self) -> str:
        stored = self._stored(force=False)
        if stored is not None:
            return stored
        with self._lock:
            stored = self._stored(force=True)  # the refresher may have just written one
            if stored is not None:
                return stored
            logger.warning("stored access token missing or expiring: obtaining one directly")
            before = self._fallback.requests_made
            token = self._fallback.token()
            self.fallback_grants += self._fallback.requests_made - before
            return token

    def invalidate(self, token: str) -> None:
        """The tenant refused `token`: never hand it out again, from the secret or the fallback."""
        self._rejected.add(token)
        self._fallback.invalidate(token)

    def _stored(self, force: bool) -> str | None:
        self.stored_reads += 1
        try:
            stored = parse_stored_token(self._read(force))
        except Exception as error:  # an unreadable secret degrades to the fallback grant
            logger.warning("token secret unreadable", extra={"error_type": type(error).__name__})
            return None
        if stored is None or not stored.usable(margin=self._margin):
            return None
        token = stored.access_token.get_secret_value()
        return None if token in self._rejected else token


def refresh_stored_token(grant: Callable[[], dict[str, Any]], write: Callable[[str], None]) -> StoredToken:
    """Run the grant and store the result; on any failure raise TokenUnavailable and write nothing."""
    body = grant()
    try:
        lifetime = float(body["expires_in"])
        now = time.time()
        token = StoredToken(
            access_token=SecretStr(str(body["access_token"])),
            token_type=str(body.get("token_type", "bearer")),
            expires_at=now + lifetime,
            scope=body.get("scope"),
            issued_at=now,
        )
    except (KeyError, TypeError, ValueError, ValidationError):
        raise TokenUnavailable(
            "token endpoint answered without a usable access_token and expires_in"
        ) from None
    if lifetime <= SAFETY_MARGIN_SECONDS:
        raise TokenUnavailable(
            f"token lifetime {lifetime:.0f} s is shorter than the {SAFETY_MARGIN_SECONDS} s margin"
        )
    write(token.to_secret_string())
    return token


def refresh_due(stored: StoredToken | None, now: float | None = None) -> bool:
    """Whether the refresher should write a new token: none usable stored, or the stored one is
    10 minutes old (Secrets Manager's sustained write rate)."""
    if stored is None or stored.issued_at is None:
        return True
    current = now if now is not None else time.time()
    return current - stored.issued_at >= MIN_WRITE_INTERVAL_SECONDS


def stored_token_age(value: Any, now: float | None = None) -> tuple[float | None, float] | None:
    """(age, seconds to expiry) of the token in the secret, for the dashboard; None if there is none.
    The age is None for a token stored before `issued_at` was recorded."""
    stored = parse_stored_token(value)
    if stored is None:
        return None
    current = now if now is not None else time.time()
    age = None if stored.issued_at is None else max(0.0, current - stored.issued_at)
    return age, stored.expires_at - current


def secret_reader() -> Callable[..., Any]:
    """`read(name, max_age, force=False)` through a Powertools SecretsProvider of this function's own.

    Not the module-level default provider: its boto3 client would outlive the function (a second
    local stack in one process would still talk to the first one's endpoint).
    """
    provider: BuiltOnce[Any] = BuiltOnce(aws_clients.secrets_provider)

    def read(name: str, max_age: int, force: bool = False, transform: Any = None) -> Any:
        return provider.get().get(name, max_age=max_age, force_fetch=force, transform=transform)

    return read


def budget_from_settings(settings: SailPointApiSettings) -> DynamoBudget | None:
    """The shared SailPoint budget (SAILPOINT_BUDGET_TABLE), keyed on the API client's id; None when
    no table is configured (every call then learns the limit from 429s alone)."""
    if not settings.budget_table:
        return None
    read = secret_reader()

    def client_id() -> str:
        credentials = load_client_credentials(
            settings.client_secret_id, lambda name: read(name, 300, transform="json")
        )
        return credentials.client_id

    return DynamoBudget(
        settings.budget_table, client_id, limit=settings.budget_limit, max_wait=settings.budget_max_wait
    )


def provider_from_settings(
    settings: SailPointApiSettings, budget: Budget | None = None
) -> StoredTokenProvider:
    """The token provider a function uses, wired to its secrets through Powertools' cached reads;
    its fallback grant takes its turn from `budget` like any other SailPoint call."""
    read = secret_reader()

    def client_credentials() -> ClientCredentials:
        return load_client_credentials(
            settings.client_secret_id, lambda name: read(name, 300, transform="json")
        )

    def read_token_secret(force: bool) -> Any:
        return read(settings.token_secret_id, settings.token_cache_seconds, force)

    fallback = ClientCredentialsTokenProvider(settings.tenant_api_url, client_credentials, budget=budget)
    return StoredTokenProvider(read_token_secret, fallback)
