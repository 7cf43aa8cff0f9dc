"""Configuration: one validated model per function, read from the environment once at cold start.

A missing or malformed variable fails the cold start with a message naming the variable, instead
of failing every request later. Nothing else in the library reads `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from idn_triggers.auth import AuthType
from idn_triggers.catalogue import TriggerType
from idn_triggers.durations import parse_duration
from idn_triggers.errors import ConfigurationError


def _csv(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _duration(value: Any) -> Any:
    """RESPONSE_DEADLINE as an environment variable: surrounding blanks and case forgiven."""
    return parse_duration(value.strip().upper()) if isinstance(value, str) else value


def _trigger_pairs(value: Any) -> Any:
    """`EXTRA_TRIGGERS="idn:new-thing=FIRE_AND_FORGET,idn:other=REQUEST_RESPONSE"`."""
    if isinstance(value, str):
        pairs = {}
        for item in _csv(value):
            trigger_id, _, trigger_type = item.partition("=")
            pairs[trigger_id.strip()] = trigger_type.strip() or TriggerType.FIRE_AND_FORGET.value
        return pairs
    return value


_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _https_tenant(value: Any) -> Any:
    """TENANT_API_URL: the client secret, access tokens and callback secrets go there, so https only;
    plain http is for local mode's simulator on a loopback address."""
    if isinstance(value, str) and value:
        parts = urlsplit(value)
        secure = parts.scheme.lower() == "https" and bool(parts.hostname)
        if not secure and not (parts.scheme.lower() == "http" and parts.hostname in _LOOPBACK):
            raise ValueError(
                "must be an https:// URL (http:// only on 127.0.0.1 or localhost, for local mode)"
            )
    return value


class EnvSettings(BaseModel):
    """Fields are named after their environment variables (upper case aliases)."""

    # defer_build: a function builds only its own model's validator (at from_env), not every model's
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, defer_build=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        try:
            return cls.model_validate({key: value for key, value in env.items() if value != ""})
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or cls.__name__}: {e['msg']}" for e in error.errors()
            )
            raise ConfigurationError(f"invalid configuration for {cls.__name__}: {problems}") from None


class ServedTriggers(EnvSettings):
    """ENABLED_TRIGGERS, the one rule for which triggers a function serves: `*` or a comma list."""

    enabled_triggers: list[str] = Field(default_factory=lambda: ["*"], alias="ENABLED_TRIGGERS")

    _split_enabled = field_validator("enabled_triggers", mode="before")(_csv)

    def is_enabled(self, trigger_id: str) -> bool:
        return "*" in self.enabled_triggers or trigger_id in self.enabled_triggers


class ReceiverSettings(ServedTriggers):
    """The receiver function's configuration (set by template.yaml, or by local mode)."""

    auth_type: AuthType = Field(alias="INBOUND_AUTH_TYPE")
    secret_id: str | None = Field(default=None, alias="INBOUND_SECRET_ID")
    secret_max_age_seconds: int = Field(default=60, ge=0, le=3600, alias="INBOUND_SECRET_MAX_AGE")
    extra_triggers: dict[str, TriggerType] = Field(default_factory=dict, alias="EXTRA_TRIGGERS")
    xray_sdk: bool = Field(default=False, alias="XRAY_SDK_SUBSEGMENTS")
    queue_url: str | None = Field(default=None, alias="WORK_QUEUE_URL")
    response_deadline: timedelta = Field(default=timedelta(hours=1), alias="RESPONSE_DEADLINE")
    tenant_api_url: str | None = Field(default=None, alias="TENANT_API_URL")
    allow_http_callbacks: bool = Field(default=False, alias="ALLOW_HTTP_CALLBACKS")
    # Bodies larger than this are refused with 413 before parsing; SailPoint's payloads are a few KiB.
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=10 * 1024 * 1024, alias="MAX_BODY_BYTES")
    # The delivery archive (S3); unset or empty = off (ArchiveRetentionDays 0). Read lazily: no boto3 when off.
    archive_bucket: str | None = Field(default=None, alias="ARCHIVE_BUCKET")

    _deadline = field_validator("response_deadline", mode="before")(_duration)

    _pairs = field_validator("extra_triggers", mode="before")(_trigger_pairs)
    _tenant = field_validator("tenant_api_url")(_https_tenant)

    @model_validator(mode="after")
    def _secret_when_authenticated(self) -> ReceiverSettings:
        if self.auth_type is not AuthType.NO_AUTH and not self.secret_id:
            raise ValueError(
                f"INBOUND_SECRET_ID is required when INBOUND_AUTH_TYPE is {self.auth_type.value}"
            )
        return self


class SailPointApiSettings(EnvSettings):
    """What any function that calls SailPoint needs: the tenant, the API client, the shared token."""

    tenant_api_url: str = Field(alias="TENANT_API_URL", min_length=1)
    client_secret_id: str = Field(alias="SAILPOINT_CLIENT_SECRET_ID", min_length=1)
    token_secret_id: str = Field(alias="TOKEN_SECRET_ID", min_length=1)
    token_cache_seconds: int = Field(default=30, ge=0, le=300, alias="TOKEN_CACHE_SECONDS")

    _tenant = field_validator("tenant_api_url")(_https_tenant)


class WorkerSettings(SailPointApiSettings, ServedTriggers):
    """The worker function's configuration."""

    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=1)
    queue_url: str = Field(alias="WORK_QUEUE_URL", min_length=1)
    dead_letter_queue_url: str = Field(alias="DEAD_LETTER_QUEUE_URL", min_length=1)
    max_receive_count: int = Field(default=3, ge=1, le=1000, alias="MAX_RECEIVE_COUNT")
    allow_http_callbacks: bool = Field(default=False, alias="ALLOW_HTTP_CALLBACKS")
    callback_timeout_seconds: float = Field(default=5.0, gt=0, le=60, alias="CALLBACK_TIMEOUT_SECONDS")
    idempotency_seconds: int = Field(default=3600, ge=60, alias="IDEMPOTENCY_SECONDS")
    max_concurrency: int = Field(default=10, ge=1, le=100, alias="WORKER_CONCURRENCY")
    archive_bucket: str | None = Field(default=None, alias="ARCHIVE_BUCKET")  # unset = no archive
    # EventBridge events carry no deadline of their own: the subscriptions' responseDeadline applies,
    # and triggers not in the catalogue yet need their type (as in the receiver).
    response_deadline: timedelta = Field(default=timedelta(hours=1), alias="RESPONSE_DEADLINE")
    extra_triggers: dict[str, TriggerType] = Field(default_factory=dict, alias="EXTRA_TRIGGERS")

    _deadline = field_validator("response_deadline", mode="before")(_duration)
    _pairs = field_validator("extra_triggers", mode="before")(_trigger_pairs)


class TokenRefresherSettings(SailPointApiSettings):
    """The token refresher writes the token secret; it never reads it."""


class RotatorSettings(SailPointApiSettings):
    """The inbound-credential rotation function."""

    auth_type: AuthType = Field(alias="INBOUND_AUTH_TYPE")
    webhook_base_url: str = Field(alias="WEBHOOK_BASE_URL", min_length=1)
    receiver_cache_seconds: int = Field(default=60, ge=0, le=600, alias="INBOUND_SECRET_MAX_AGE")

    @property
    def propagation_seconds(self) -> int:
        """How long setSecret waits for every receiver's cache to see the pending credential."""
        return self.receiver_cache_seconds + 5 if self.receiver_cache_seconds else 0


class SubscriptionsSettings(SailPointApiSettings):
    """The subscriptions custom resource: it puts the inbound credential into the subscriptions."""

    auth_type: AuthType = Field(alias="INBOUND_AUTH_TYPE")
    inbound_secret_id: str | None = Field(default=None, alias="INBOUND_SECRET_ID")


class ReconcilerSettings(SailPointApiSettings):
    """The reconciler: reads the invocation history and queues what SailPoint could not deliver."""

    recovery_table: str = Field(alias="RECOVERY_TABLE", min_length=1)
    queue_url: str = Field(alias="WORK_QUEUE_URL", min_length=1)
    webhook_base_url: str = Field(alias="WEBHOOK_BASE_URL", min_length=1)
    grace: timedelta = Field(default=timedelta(minutes=15), alias="RECOVERY_GRACE")
    lookback: timedelta = Field(default=timedelta(hours=2), alias="RECOVERY_LOOKBACK")
    include_tests: bool = Field(default=False, alias="RECOVER_TEST_INVOCATIONS")
    extra_triggers: dict[str, TriggerType] = Field(default_factory=dict, alias="EXTRA_TRIGGERS")

    _durations = field_validator("grace", "lookback", mode="before")(_duration)
    _extra = field_validator("extra_triggers", mode="before")(_trigger_pairs)
