"""CloudFormation custom resources: always answer the pre-signed ResponseURL.

CloudFormation waits up to an hour for an answer that never comes; so whatever happens, exactly one
SUCCESS or FAILED (with a one-line reason) is sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import requests
from aws_lambda_powertools import Logger

logger = Logger()
Handler = Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]


def respond(
    event: dict[str, Any],
    status: str,
    physical_id: str,
    *,
    reason: str = "",
    data: dict[str, Any] | None = None,
    session: requests.Session | None = None,
) -> None:
    """PUT the response document to the event's ResponseURL (retried: it is the only way out)."""
    document = {
        "Status": status,
        "Reason": reason[:1000] or status,
        "PhysicalResourceId": physical_id[:1024],
        "StackId": event.get("StackId"),
        "RequestId": event.get("RequestId"),
        "LogicalResourceId": event.get("LogicalResourceId"),
        "NoEcho": False,
        "Data": data or {},
    }
    body = json.dumps(document)
    http = session or requests.Session()
    for attempt in range(3):
        try:
            response = http.put(event["ResponseURL"], data=body, timeout=10, headers={"Content-Type": ""})
            if response.status_code < 300:
                return
        except requests.RequestException as error:
            logger.warning(
                "CloudFormation response not delivered",
                extra={"attempt": attempt + 1, "error_type": type(error).__name__},
            )
    logger.error("CloudFormation response could not be delivered; the stack operation will time out")


def run_custom_resource(
    event: dict[str, Any], handler: Handler, session: requests.Session | None = None
) -> None:
    """Run `handler` (returns physical id and data) and answer CloudFormation whatever it does."""
    physical_id = str(event.get("PhysicalResourceId") or event.get("LogicalResourceId") or "unknown")
    try:
        physical_id, data = handler(event)
    except Exception as error:  # every failure must become a FAILED answer, never silence
        logger.exception("custom resource failed", extra={"request_type": event.get("RequestType")})
        reason = f"{type(error).__name__}: {error}".replace("\n", " ")
        respond(event, "FAILED", physical_id, reason=reason, session=session)
        return
    respond(event, "SUCCESS", physical_id, data=data, session=session)


def configuration_digests(properties: dict[str, Any]) -> dict[str, str]:
    """A short digest of each function's configuration (`Custom::FunctionConfigurations`): it goes
    into the function's version Description, so a changed value publishes a new version."""
    return {
        name: hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]
        for name, value in properties.items()
        if name not in ("ServiceToken", "ServiceTimeout")
    }
