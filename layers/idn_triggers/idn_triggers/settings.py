"""Configuration: one validated model per function, read from the environment once at cold start.

A missing or malformed variable fails the cold start with a message naming the variable, instead
of failing every request later. Nothing else in the library reads `os.environ`.
"""

from __future__ import annotations

import json
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
from idn_triggers.failure_policy import DEFAULT_ANSWER_SECONDS, parse_failure_policies
from idn_triggers.trigger_control import Rate, parse_rate_limits


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


class HandlerSettings(EnvSettings):
    """A handler's settings: its environment variables over the handlers package's settings file.

    The file is `settings/<HANDLER_SETTINGS>.json` in the handlers package (HANDLERS_PACKAGE,
    default `trigger_handlers`): one flat JSON object of variable names to values, one file per
    environment (`default.json`, `prod.json`...), chosen by HANDLER_SETTINGS (the template's
    HandlerSettings parameter, set per environment in samconfig.toml; default `default`). A handler
    setting so needs no edit of template.yaml. A non-empty environment variable wins over the file.
    """

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        return super().from_env({**handler_settings_file(env), **{k: v for k, v in env.items() if v != ""}})


def handler_settings_file(environ: Mapping[str, str]) -> dict[str, str]:
    """The values of the settings file HANDLER_SETTINGS names ({} when `default.json` is absent)."""
    import importlib.util
    from pathlib import Path

    name = environ.get("HANDLER_SETTINGS") or "default"
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigurationError("HANDLER_SETTINGS must be a file name: letters, digits, - and _")
    spec = importlib.util.find_spec(environ.get("HANDLERS_PACKAGE") or "trigger_handlers")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    found = [Path(folder) / "settings" / f"{name}.json" for folder in folders]
    path = next((p for p in found if p.is_file()), None)
    if path is None:
        if name == "default":
            return {}
        raise ConfigurationError(f"HANDLER_SETTINGS={name}: no settings/{name}.json in the handlers package")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ConfigurationError(f"settings/{name}.json is not JSON: {error}") from None
    if not isinstance(values, dict):
        raise ConfigurationError(f"settings/{name}.json must hold one JSON object of variable -> value")
    return {str(k): _setting_text(v) for k, v in values.items()}


def _setting_text(value: object) -> str:
    """A value as its environment variable would hold it: lists comma-separated, objects as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return json.dumps(value)


class ServedTriggers(EnvSettings):
    """ENABLED_TRIGGERS, the one rule for which triggers a function serves: `*` or a comma list;
    HANDLERS_PACKAGE, the package of handler modules that serves them (the user's, by default; the
    product's own tests point it at handlers of their own, so they never depend on the user's)."""

    enabled_triggers: list[str] = Field(default_factory=lambda: ["*"], alias="ENABLED_TRIGGERS")
    handlers_package: str = Field(
        default="trigger_handlers",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$",
        alias="HANDLERS_PACKAGE",
    )

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
    # What SailPoint receives when a request-response handler fails or is late (failure_policy.py)
    failure_policies: dict[str, dict[str, Any]] = Field(default_factory=dict, alias="FAILURE_POLICIES")
    answer_seconds: float = Field(
        default=DEFAULT_ANSWER_SECONDS, gt=0, le=9.5, alias="HANDLER_ANSWER_SECONDS"
    )

    _deadline = field_validator("response_deadline", mode="before")(_duration)

    _pairs = field_validator("extra_triggers", mode="before")(_trigger_pairs)
    _policies = field_validator("failure_policies", mode="before")(parse_failure_policies)
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
    # The budget every function shares (idn_triggers.rate_budget); unset = none, 429s alone.
    budget_table: str | None = Field(default=None, alias="SAILPOINT_BUDGET_TABLE")
    budget_limit: int = Field(default=100, ge=11, le=100_000, alias="SAILPOINT_RATE_LIMIT")
    budget_max_wait: float = Field(default=5.0, ge=0, le=60, alias="SAILPOINT_BUDGET_MAX_WAIT")

    _tenant = field_validator("tenant_api_url")(_https_tenant)


class WorkerSettings(SailPointApiSettings, ServedTriggers):
    """The worker function's configuration."""

    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=1)
    queue_url: str = Field(alias="WORK_QUEUE_URL", min_length=1)
    dead_letter_queue_url: str = Field(alias="DEAD_LETTER_QUEUE_URL", min_length=1)
    max_receive_count: int = Field(default=3, ge=1, le=1000, alias="MAX_RECEIVE_COUNT")
    allow_http_callbacks: bool = Field(default=False, alias="ALLOW_HTTP_CALLBACKS")
    callback_timeout_seconds: float = Field(default=5.0, gt=0, le=60, alias="CALLBACK_TIMEOUT_SECONDS")
    idempotency_seconds: int = Field(default=180_000, ge=60, alias="IDEMPOTENCY_SECONDS")  # template.yaml's
    max_concurrency: int = Field(default=10, ge=1, le=100, alias="WORKER_CONCURRENCY")
    archive_bucket: str | None = Field(default=None, alias="ARCHIVE_BUCKET")  # unset = no archive
    # EventBridge events carry no deadline of their own: the subscriptions' responseDeadline applies,
    # and triggers not in the catalogue yet need their type (as in the receiver).
    response_deadline: timedelta = Field(default=timedelta(hours=1), alias="RESPONSE_DEADLINE")
    extra_triggers: dict[str, TriggerType] = Field(default_factory=dict, alias="EXTRA_TRIGGERS")
    failure_policies: dict[str, dict[str, Any]] = Field(default_factory=dict, alias="FAILURE_POLICIES")
    # Per-trigger controls (idn_triggers.trigger_control); no table = none
    trigger_control_table: str | None = Field(default=None, alias="TRIGGER_CONTROL_TABLE")
    rate_limits: dict[str, Rate] = Field(default_factory=dict, alias="TRIGGER_RATE_LIMITS")
    breaker_after: int = Field(default=0, ge=0, le=10_000, alias="CIRCUIT_BREAKER_FAILURES")
    trigger_state_cache_seconds: float = Field(default=5.0, ge=0, le=60, alias="TRIGGER_STATE_CACHE_SECONDS")

    _deadline = field_validator("response_deadline", mode="before")(_duration)
    _pairs = field_validator("extra_triggers", mode="before")(_trigger_pairs)
    _policies = field_validator("failure_policies", mode="before")(parse_failure_policies)
    _rates = field_validator("rate_limits", mode="before")(parse_rate_limits)


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
