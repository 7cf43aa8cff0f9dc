"""Trigger subscriptions: validation per the spec's Subscription schemas, JSON Patch, limits.

Secrets (``basicAuthConfig.password``, ``bearerTokenAuthConfig.bearerToken``) are kept but answered
as null, as the spec's schema says. A PUT or PATCH that leaves a secret null or out keeps the stored
one when the authentication type is unchanged, so a client can PUT back what it read.
"""

from __future__ import annotations

import base64
import copy
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from jsonpath import JSONPatch
from jsonpath.exceptions import JSONPatchError, JSONPointerError

from idn_triggers.durations import parse_duration
from jayway_filter import FilterSyntaxError, UnsupportedFilterError, compile_filter

from .api_errors import bad_request
from .tenant_triggers import TenantTriggers

SUBSCRIPTION_TYPES = ("HTTP", "EVENTBRIDGE", "INLINE", "SCRIPT", "WORKFLOW")
DISPATCH_MODES = ("SYNC", "ASYNC", "DYNAMIC")
AUTH_TYPES = ("NO_AUTH", "BASIC_AUTH", "BEARER_TOKEN")
PATCHABLE = (
    "name",
    "description",
    "enabled",
    "type",
    "filter",
    "responseDeadline",
    "httpConfig",
    "eventBridgeConfig",
    "workflowConfig",
)
PATCH_OPS = ("add", "remove", "replace", "move", "copy")
MAX_FIRE_AND_FORGET = 50
DEFAULT_DEADLINE = "PT1H"
_AWS_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True, slots=True)
class Subscription:
    """One stored subscription; ``http_config`` holds the secrets."""

    id: str
    name: str
    description: str | None
    trigger_id: str
    trigger_name: str
    type: str
    response_deadline: str
    enabled: bool
    filter: str | None
    http_config: dict[str, Any] | None
    event_bridge_config: dict[str, Any] | None
    workflow_config: dict[str, Any] | None
    created: datetime

    @property
    def deadline(self) -> timedelta:
        return parse_duration(self.response_deadline)

    @property
    def dispatch_mode(self) -> str | None:
        return self.http_config["httpDispatchMode"] if self.http_config else None

    def document(self) -> dict[str, Any]:
        """The subscription in API shape, secrets included (the base a JSON Patch applies to)."""
        document: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "triggerId": self.trigger_id,
            "triggerName": self.trigger_name,
            "type": self.type,
            "responseDeadline": self.response_deadline,
            "enabled": self.enabled,
        }
        # A tenant serializes the documented, patchable fields whether set or not (null when unset),
        # so `replace /filter` or `remove /description` applies to a subscription created without them.
        documented = {
            "description": self.description,
            "filter": self.filter,
            "httpConfig": self.http_config,
            "eventBridgeConfig": self.event_bridge_config,
        }
        document.update({key: copy.deepcopy(value) for key, value in documented.items()})
        if self.workflow_config is not None:  # not in the published schema: only when set
            document["workflowConfig"] = copy.deepcopy(self.workflow_config)
        return document

    def api_view(self) -> dict[str, Any]:
        """The spec's Subscription object: secrets answered as null."""
        document = self.document()
        http = document.get("httpConfig")
        if http:
            if "basicAuthConfig" in http:
                http["basicAuthConfig"]["password"] = None
            if "bearerTokenAuthConfig" in http:
                http["bearerTokenAuthConfig"]["bearerToken"] = None
        return document

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header SailPoint sends to the subscription URL, if any."""
        http = self.http_config or {}
        kind = http.get("httpAuthenticationType", "NO_AUTH")
        if kind == "BASIC_AUTH":
            basic = http["basicAuthConfig"]
            raw = f"{basic['userName']}:{basic['password']}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}
        if kind == "BEARER_TOKEN":
            return {"Authorization": "Bearer " + http["bearerTokenAuthConfig"]["bearerToken"]}
        return {}


def build_subscription(
    body: Any,
    *,
    catalogue: TenantTriggers,
    subscription_id: str,
    created: datetime,
    existing: Subscription | None = None,
) -> Subscription:
    """Validate a create (``existing`` None) or full-replace body into a Subscription, else 400."""
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    if existing is not None:
        if "id" in body and body["id"] != existing.id:
            raise bad_request("id is immutable")
        if "triggerId" in body and body["triggerId"] != existing.trigger_id:
            raise bad_request("triggerId is immutable")
        trigger_id = existing.trigger_id
    else:
        trigger_id = _string(body, "triggerId", required=True) or ""
    trigger = catalogue.get(trigger_id)
    if trigger is None:
        raise bad_request(f"triggerId '{trigger_id}' is not a trigger of this tenant")
    name = _string(body, "name", required=True) or ""
    if not name.strip():
        raise bad_request("name must not be blank")
    kind = _choice(body, "type", SUBSCRIPTION_TYPES, required=True)
    deadline = _string(body, "responseDeadline") or DEFAULT_DEADLINE
    try:
        if parse_duration(deadline) <= timedelta(0):
            raise bad_request("responseDeadline must be longer than zero")
    except ValueError as err:
        raise bad_request(f"responseDeadline: {err}") from None
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise bad_request("enabled must be a boolean")
    filter_ = _string(body, "filter")
    if filter_ is not None:
        _check_filter(filter_)
    previous_http = existing.http_config if existing is not None else None
    http_config = _http_config(body.get("httpConfig"), previous_http) if kind == "HTTP" else None
    event_bridge = _event_bridge_config(body.get("eventBridgeConfig")) if kind == "EVENTBRIDGE" else None
    workflow = body.get("workflowConfig")
    if workflow is not None and not isinstance(workflow, dict):
        raise bad_request("workflowConfig must be an object")
    return Subscription(
        id=subscription_id,
        name=name,
        description=_string(body, "description"),
        trigger_id=trigger.id,
        trigger_name=trigger.name,
        type=kind,
        response_deadline=deadline,
        enabled=enabled,
        filter=filter_,
        http_config=http_config,
        event_bridge_config=event_bridge,
        workflow_config=copy.deepcopy(workflow),
        created=created,
    )


def apply_patch(existing: Subscription, operations: Any, catalogue: TenantTriggers) -> Subscription:
    """Apply RFC 6902 operations to the patchable fields, then validate the result like a PUT."""
    if not isinstance(operations, list) or not operations:
        raise bad_request("a JSON Patch body must be a non-empty array of operations")
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise bad_request(f"patch operation {index} must be an object")
        op, path = operation.get("op"), operation.get("path")
        if op not in PATCH_OPS:
            raise bad_request(f"patch operation {index}: op must be one of {', '.join(PATCH_OPS)}")
        if not isinstance(path, str):
            raise bad_request(f"patch operation {index}: path must be a JSON Pointer string")
        pointers = [path] + ([operation.get("from")] if op in ("move", "copy") else [])
        for pointer in pointers:
            field = pointer.split("/")[1] if isinstance(pointer, str) and pointer.startswith("/") else ""
            if field not in PATCHABLE:
                raise bad_request(
                    f"patch operation {index}: '{pointer}' is not patchable; patchable fields: {', '.join(PATCHABLE)}"
                )
        if op in ("add", "replace") and "value" not in operation:
            raise bad_request(f"patch operation {index}: '{op}' needs a value")
    document = existing.document()
    try:
        patched = JSONPatch(operations).apply(document)
    except (JSONPatchError, JSONPointerError) as err:
        raise bad_request(f"patch cannot be applied: {err}") from None
    return build_subscription(
        patched, catalogue=catalogue, subscription_id=existing.id, created=existing.created, existing=existing
    )


def check_limits(new: Subscription, others: list[Subscription], catalogue: TenantTriggers) -> None:
    """One subscription per REQUEST_RESPONSE trigger, 50 per other trigger (400 naming the existing)."""
    same_trigger = [sub for sub in others if sub.trigger_id == new.trigger_id]
    trigger = catalogue.get(new.trigger_id)
    if trigger is not None and trigger.is_request_response and same_trigger:
        first = same_trigger[0]
        raise bad_request(
            f"trigger '{new.trigger_id}' is REQUEST_RESPONSE and allows one subscription; "
            f"subscription '{first.name}' ({first.id}) already exists"
        )
    if len(same_trigger) >= MAX_FIRE_AND_FORGET:
        raise bad_request(
            f"trigger '{new.trigger_id}' already has {MAX_FIRE_AND_FORGET} subscriptions, the limit per trigger"
        )


def _check_filter(expression: str) -> None:
    try:
        compile_filter(expression)
    except FilterSyntaxError as err:
        raise bad_request(f"filter is not a valid JSONPath expression: {err}") from None
    except UnsupportedFilterError as err:
        raise bad_request(f"filter uses Jayway syntax this simulator does not evaluate yet: {err}") from None


def _string(body: dict[str, Any], key: str, *, required: bool = False, where: str = "") -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise bad_request(f"{where}{key} is required")
        return None
    if not isinstance(value, str):
        raise bad_request(f"{where}{key} must be a string")
    return value


def _choice(
    body: dict[str, Any], key: str, allowed: tuple[str, ...], *, required: bool = False, where: str = ""
) -> str:
    value = _string(body, key, required=required, where=where)
    if value is None:
        return allowed[0]
    if value not in allowed:
        raise bad_request(f"{where}{key} must be one of {', '.join(allowed)}")
    return value


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request(f"{name} is required and must be an object")
    return value


def _http_config(raw: Any, previous: dict[str, Any] | None) -> dict[str, Any]:
    config = _object(raw, "httpConfig")
    url = _string(config, "url", required=True, where="httpConfig.") or ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request("httpConfig.url must be an absolute http or https URL")
    mode = _choice(config, "httpDispatchMode", DISPATCH_MODES, required=True, where="httpConfig.")
    auth = _choice(config, "httpAuthenticationType", AUTH_TYPES, where="httpConfig.")
    result: dict[str, Any] = {"url": url, "httpDispatchMode": mode, "httpAuthenticationType": auth}
    same_auth = previous is not None and previous.get("httpAuthenticationType") == auth
    if auth == "BASIC_AUTH":
        basic = _object(config.get("basicAuthConfig"), "httpConfig.basicAuthConfig")
        user = _string(basic, "userName", required=True, where="httpConfig.basicAuthConfig.")
        password = _string(basic, "password", where="httpConfig.basicAuthConfig.")
        if password is None and same_auth and previous is not None:
            password = previous["basicAuthConfig"]["password"]
        if not password:
            raise bad_request("httpConfig.basicAuthConfig.password is required")
        result["basicAuthConfig"] = {"userName": user, "password": password}
    elif auth == "BEARER_TOKEN":
        bearer = _object(config.get("bearerTokenAuthConfig"), "httpConfig.bearerTokenAuthConfig")
        token = _string(bearer, "bearerToken", where="httpConfig.bearerTokenAuthConfig.")
        if token is None and same_auth and previous is not None:
            token = previous["bearerTokenAuthConfig"]["bearerToken"]
        if not token:
            raise bad_request("httpConfig.bearerTokenAuthConfig.bearerToken is required")
        result["bearerTokenAuthConfig"] = {"bearerToken": token}
    return result


def _event_bridge_config(raw: Any) -> dict[str, Any]:
    config = _object(raw, "eventBridgeConfig")
    account = _string(config, "awsAccount", required=True, where="eventBridgeConfig.") or ""
    if not _AWS_ACCOUNT.match(account):
        raise bad_request("eventBridgeConfig.awsAccount must be a 12-digit AWS account number")
    region = _string(config, "awsRegion", required=True, where="eventBridgeConfig.") or ""
    if not region:
        raise bad_request("eventBridgeConfig.awsRegion must not be empty")
    return {"awsAccount": account, "awsRegion": region}
