"""The delivery envelope: the trigger's input plus SailPoint's optional `_metadata`.

`_metadata` is present on ASYNC and DYNAMIC deliveries only; its `responseMode` and `triggerType`
come in varying case (`async`, `ASYNC`, `requestResponse`). SailPoint sends no invocation id: it is
the `{id}` of the callback URL path `.../trigger-invocations/{id}/complete`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from idn_triggers.catalogue import TriggerType
from idn_triggers.errors import InvalidPayload, MalformedBody

METADATA_KEY = "_metadata"
# The whole path of a completion URL: `/trigger-invocations/v1/{id}/complete`, or the legacy
# `/{beta|v2024|...}/trigger-invocations/{id}/complete`. Anchored at both ends (fullmatch, so no `$`
# that a trailing newline passes), and the id may not be a dot segment: requests removes `..`
# before sending, so `.../trigger-invocations/../complete` would reach another endpoint.
_COMPLETE_PATH = re.compile(
    r"(?P<prefix>/[A-Za-z0-9]+)?/trigger-invocations/(?P<v1>v1/)?(?P<id>[A-Za-z0-9._~:-]+)/complete/?"
)
# The invocation id becomes an SQS message attribute and the idempotency key (DynamoDB): SQS refuses
# control characters and both have size limits, so an id outside this shape is refused up front.
_INVOCATION_ID = re.compile(r"[A-Za-z0-9._~:-]{1,128}")
_DOT_SEGMENT = re.compile(r"\.+")


class ResponseMode(StrEnum):
    SYNC = "SYNC"
    ASYNC = "ASYNC"
    DYNAMIC = "DYNAMIC"


class DeliveryKind(StrEnum):
    """How an event reached the handler: as SailPoint sent it, read back from the tenant's invocation
    history after a failed delivery, played again by an operator from the archive, or moved back from
    the dead-letter queue by an operator (`dlq redrive`: its first complete run)."""

    LIVE = "LIVE"
    RECOVERED = "RECOVERED"
    REPLAY = "REPLAY"
    REDRIVE = "REDRIVE"


def _squash(value: str) -> str:
    return value.replace("_", "").replace("-", "").replace(" ", "").upper()


_TRIGGER_TYPES = {_squash(t.value): t for t in TriggerType}


# What a completion URL may look like, character by character: an ASCII host name (or an IP literal),
# an optional port, a path and an optional query. No userinfo, no backslash, no whitespace or control
# characters, no fragment: URL parsers disagree on those (`https://evil.example\\@tenant/...` is the
# tenant's host to urlsplit but evil.example to requests/urllib3), and SailPoint never sends them.
_PLAIN_URL = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?"
    r"/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*(?:\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?"
)


def callback_url_problem(callback_url: str, tenant_api_url: str | None, allow_http: bool) -> str | None:
    """Why a callback URL must not be called, or None. The worker POSTs the invocation's secret
    there, so only the tenant's own completion endpoint is acceptable (no request forwarding)."""
    plain = _PLAIN_URL.fullmatch(callback_url)
    if plain is None:
        return "callbackURL must be a plain URL (no userinfo, backslash, whitespace, fragment or non-ASCII)"
    scheme = plain["scheme"].lower()
    if scheme != "https" and not (allow_http and scheme == "http"):
        return "callbackURL must use https"
    if invocation_id_from_callback(callback_url) is None:
        return "callbackURL is not a SailPoint trigger-invocation completion URL"
    if tenant_api_url:
        tenant = urlsplit(tenant_api_url)
        try:
            tenant_port = tenant.port
        except ValueError:
            return "the configured tenant API URL has an invalid port"
        port = int(plain["port"]) if plain["port"] else None
        if (plain["host"].strip("[]").lower(), port) != (tenant.hostname, tenant_port):
            return "callbackURL is not on the configured tenant's API host"
    return None


def invocation_id_from_callback(callback_url: str) -> str | None:
    """The `{id}` in `.../trigger-invocations/{id}/complete`, or None if the URL is not of that shape."""
    match = _COMPLETE_PATH.fullmatch(urlsplit(callback_url).path)
    if match is None or not is_invocation_id(match["id"]):
        return None
    return match["id"]


def is_invocation_id(value: str) -> bool:
    """1 to 128 of letters, digits and `. _ ~ : -`, and not a dot segment (`.`, `..`)."""
    return _INVOCATION_ID.fullmatch(value) is not None and _DOT_SEGMENT.fullmatch(value) is None


def completion_url(callback_url: str, tenant_api_url: str) -> str:
    """The URL the worker POSTs to, rebuilt from the tenant's base URL and the validated parts of
    `callback_url` (call `callback_url_problem` first): nothing the delivery sent beyond the version
    prefix and the invocation id reaches the request line. No query, no dot segment."""
    match = _COMPLETE_PATH.fullmatch(urlsplit(callback_url).path)
    if match is None or not is_invocation_id(match["id"]):
        raise ValueError("not a SailPoint trigger-invocation completion URL")
    tenant = urlsplit(tenant_api_url)
    return (
        f"{tenant.scheme.lower()}://{tenant.netloc.lower()}{match['prefix'] or ''}"
        f"/trigger-invocations/{match['v1'] or ''}{match['id']}/complete"
    )


class DeliveryMetadata(BaseModel):
    """SailPoint's `_metadata`. Unknown keys are kept; the secret never prints."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    callback_url: str | None = Field(default=None, alias="callbackURL")
    secret: SecretStr | None = None
    response_mode: ResponseMode | None = Field(default=None, alias="responseMode")
    trigger_id: str | None = Field(default=None, alias="triggerId")
    trigger_type: TriggerType | None = Field(default=None, alias="triggerType")
    invocation_id: str | None = Field(default=None, alias="invocationId")

    @field_validator("response_mode", mode="before")
    @classmethod
    def _mode_any_case(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("trigger_type", mode="before")
    @classmethod
    def _type_any_case(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _TRIGGER_TYPES.get(_squash(value), value)
        return value

    @model_validator(mode="after")
    def _callback_required_when_deferred(self) -> DeliveryMetadata:
        if self.response_mode in (ResponseMode.ASYNC, ResponseMode.DYNAMIC):
            missing = [
                name
                for name, value in (("callbackURL", self.callback_url), ("secret", self.secret))
                if not value
            ]
            if missing:
                raise ValueError(
                    f"{' and '.join(missing)} required when responseMode is {self.response_mode.value}"
                )
        if self.callback_url is not None and invocation_id_from_callback(self.callback_url) is None:
            raise ValueError("callbackURL is not a SailPoint trigger-invocation completion URL")
        invocation_id = self.resolved_invocation_id
        if invocation_id is not None and not is_invocation_id(invocation_id):
            raise ValueError("the invocation id must be 1 to 128 letters, digits or . _ ~ : - (not . or ..)")
        return self

    @property
    def resolved_invocation_id(self) -> str | None:
        """`invocationId` when SailPoint sends one, else the id taken from the callback URL."""
        if self.invocation_id:
            return self.invocation_id
        return invocation_id_from_callback(self.callback_url) if self.callback_url else None


class Delivery(BaseModel):
    """One trigger invocation as received: which trigger, the input, and metadata if any."""

    model_config = ConfigDict(frozen=True)

    trigger_id: str
    payload: dict[str, Any]
    metadata: DeliveryMetadata | None = None

    @property
    def response_mode(self) -> ResponseMode:
        if self.metadata is None or self.metadata.response_mode is None:
            return ResponseMode.SYNC
        return self.metadata.response_mode

    @property
    def invocation_id(self) -> str | None:
        return self.metadata.resolved_invocation_id if self.metadata else None


def split_envelope(trigger_id: str, body: dict[str, Any]) -> Delivery:
    """Separate `_metadata` from the trigger input and validate it.

    Raises MalformedBody/InvalidPayload naming `_metadata` fields, never echoing their values.
    """
    payload = {key: value for key, value in body.items() if key != METADATA_KEY}
    raw_metadata = body.get(METADATA_KEY)
    if raw_metadata is None:
        return Delivery(trigger_id=trigger_id, payload=payload)
    if not isinstance(raw_metadata, dict):
        raise MalformedBody("_metadata must be a JSON object")
    try:
        metadata = DeliveryMetadata.model_validate(raw_metadata)
    except ValidationError as error:
        raise InvalidPayload.from_pydantic(
            "_metadata is invalid", error.errors(), prefix=METADATA_KEY
        ) from None
    if metadata.trigger_id is not None and metadata.trigger_id != trigger_id:
        raise InvalidPayload(
            "_metadata.triggerId does not match the trigger in the URL path",
            details=[{"field": "_metadata.triggerId", "problem": "does not match the URL path"}],
        )
    return Delivery(trigger_id=trigger_id, payload=payload, metadata=metadata)
