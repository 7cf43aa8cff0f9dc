"""Inbound authentication: what the subscription says (NO_AUTH, BASIC_AUTH or BEARER_TOKEN).

SailPoint signs nothing, so the credential in the Authorization header is all we have. It is
compared in constant time against every credential the secret accepts (current, and the previous
one during a rotation), without stopping at the first match.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError

from idn_triggers import aws_clients
from idn_triggers.aws_clients import BuiltOnce
from idn_triggers.errors import AuthenticationFailed, ConfigurationError, CredentialStoreUnavailable
from idn_triggers.observability import keep_sdk_logs_free_of_secrets


class AuthType(StrEnum):
    NO_AUTH = "NO_AUTH"
    BASIC_AUTH = "BASIC_AUTH"
    BEARER_TOKEN = "BEARER_TOKEN"  # noqa: S105 - a mode name, not a credential


class InboundCredential(BaseModel):
    """One credential, named as in SailPoint's subscription auth config."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    bearer_token: SecretStr | None = Field(default=None, alias="bearerToken", min_length=1)
    user_name: str | None = Field(default=None, alias="userName", min_length=1)
    password: SecretStr | None = Field(default=None, min_length=1)


class InboundSecret(InboundCredential):
    """The secret's JSON: the current credential and, after a rotation, the one it replaced.

    While a rotation is under way the AWSPENDING version is accepted too (`with_pending`), because
    SailPoint starts sending it before it becomes current.
    """

    previous: InboundCredential | None = None
    _pending: InboundCredential | None = PrivateAttr(default=None)

    def with_pending(self, pending: InboundCredential | None) -> InboundSecret:
        combined = self.model_copy()
        combined._pending = pending
        return combined

    def accepted(self) -> list[InboundCredential]:
        return [c for c in (self, self.previous, self._pending) if c is not None]


CredentialSource = Callable[[], InboundSecret]


def _same(given: str, expected: str) -> bool:
    # surrogatepass: a lone surrogate in a header must compare unequal, not raise
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


class InboundAuthenticator:
    """Checks the Authorization header of one request against the configured credential."""

    def __init__(self, auth_type: AuthType, credentials: CredentialSource | None) -> None:
        if auth_type is not AuthType.NO_AUTH and credentials is None:
            raise ConfigurationError(f"{auth_type.value} needs a credential source")
        self.auth_type = auth_type
        self._credentials = credentials

    def forget_cached_credentials(self) -> None:
        """Drop cached credentials (SnapStart restore): the next request reads the secret anew."""
        forget = getattr(self._credentials, "forget", None)
        if forget is not None:
            forget()

    def authenticate(self, headers: Mapping[str, str] | None) -> None:
        """Return quietly, or raise AuthenticationFailed without saying what was wrong."""
        if self.auth_type is AuthType.NO_AUTH:
            return
        header = _header(headers, "authorization")
        scheme, _, value = (header or "").strip().partition(" ")
        value = value.strip()
        if not value:
            raise AuthenticationFailed()
        assert self._credentials is not None
        accepted = self._credentials().accepted()
        if self.auth_type is AuthType.BEARER_TOKEN:
            ok = scheme.lower() == "bearer" and self._bearer_matches(value, accepted)
        else:
            ok = scheme.lower() == "basic" and self._basic_matches(value, accepted)
        if not ok:
            raise AuthenticationFailed()

    @staticmethod
    def _bearer_matches(token: str, accepted: list[InboundCredential]) -> bool:
        matched = False
        for credential in accepted:
            if credential.bearer_token is not None:
                matched |= _same(token, credential.bearer_token.get_secret_value())
        return matched

    @staticmethod
    def _basic_matches(encoded: str, accepted: list[InboundCredential]) -> bool:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, separator, password = decoded.partition(":")
        if not separator:
            return False
        matched = False
        for credential in accepted:
            if credential.user_name is not None and credential.password is not None:
                user_ok = _same(user, credential.user_name)
                password_ok = _same(password, credential.password.get_secret_value())
                matched |= user_ok & password_ok
        return matched


def parse_inbound_secret(secret_id: str, auth_type: AuthType, value: Any) -> InboundSecret:
    """Validate the secret's JSON for the auth type, naming the secret and key that are missing."""
    try:
        secret = InboundSecret.model_validate(value)
    except ValidationError as error:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in error.errors())
        raise ConfigurationError(f"secret {secret_id} is malformed at: {fields}") from None
    required = ("bearerToken",) if auth_type is AuthType.BEARER_TOKEN else ("userName", "password")
    present = {"bearerToken": secret.bearer_token, "userName": secret.user_name, "password": secret.password}
    missing = [key for key in required if present[key] is None]
    if missing:
        raise ConfigurationError(
            f"secret {secret_id} lacks key(s) {', '.join(missing)} needed for {auth_type.value}"
        )
    return secret


def _credential_providers() -> tuple[Any, Any]:
    """Providers for AWSCURRENT and AWSPENDING: each its own cache, as Powertools keys a cache on the
    secret's name only."""
    keep_sdk_logs_free_of_secrets()
    return aws_clients.secrets_provider(), aws_clients.secrets_provider()


class SecretsManagerCredentials:
    """Reads the inbound credential from Secrets Manager through Powertools' cached provider:
    AWSCURRENT, and AWSPENDING while a rotation is under way (each cached `max_age_seconds`).

    boto3 is imported on first use, not at cold start of modules that only import this one.
    """

    def __init__(self, secret_id: str, auth_type: AuthType, max_age_seconds: int) -> None:
        self.secret_id = secret_id
        self.auth_type = auth_type
        self.max_age_seconds = max_age_seconds
        self._providers = BuiltOnce(_credential_providers)  # (current, pending)
        self._parsed: tuple[Any, InboundSecret] | None = None
        self._pending: tuple[float, Any, InboundCredential | None] = (0.0, None, None)

    def forget(self) -> None:
        """Drop the cached secret versions and the SDK client with its connections."""
        self._providers.reset()
        self._parsed = None
        self._pending = (0.0, None, None)

    def __call__(self) -> InboundSecret:
        current = self._current()
        return current.with_pending(self._pending_credential())

    def _pending_credential(self) -> InboundCredential | None:
        """The AWSPENDING credential, or None when no rotation is under way (that answer is cached too)."""
        fetched_at, raw, parsed = self._pending
        if time.monotonic() - fetched_at < self.max_age_seconds:
            return parsed
        try:
            raw_now = self._providers.get()[1].get(
                self.secret_id, max_age=self.max_age_seconds, transform="json", VersionStage="AWSPENDING"
            )
            parsed = (
                parsed if raw_now is raw else parse_inbound_secret(self.secret_id, self.auth_type, raw_now)
            )
        except Exception:  # no pending version (the usual case) or a malformed one: current still works
            raw_now, parsed = None, None
        self._pending = (time.monotonic(), raw_now, parsed)
        return parsed

    def _current(self) -> InboundSecret:
        try:
            # The stage is explicit (AWS's default anyway) so local mode's moto follows rotations too.
            raw = self._providers.get()[0].get(
                self.secret_id, max_age=self.max_age_seconds, transform="json", VersionStage="AWSCURRENT"
            )
        except Exception as error:  # botocore errors, transform errors: all mean "cannot verify"
            from aws_lambda_powertools import Logger

            Logger().error(
                "cannot read the inbound credential secret",
                extra={"secret_id": self.secret_id, "error_type": type(error).__name__},
            )
            raise CredentialStoreUnavailable() from None
        if self._parsed is None or self._parsed[0] is not raw:  # parse once per fetched value
            self._parsed = (raw, parse_inbound_secret(self.secret_id, self.auth_type, raw))
        return self._parsed[1]
