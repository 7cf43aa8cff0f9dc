"""Errors the simulator answers with, in SailPoint's shapes.

Most errors use the spec's ErrorResponseDto (``detailCode``, ``trackingId``, ``messages``);
the spec gives 401 the shape ``{"error": ...}`` and 429 the shape ``{"message": ...}``, and the
OAuth endpoint answers like an OAuth 2 server (``error``, ``error_description``).
"""

from __future__ import annotations

import uuid
from typing import Any

DETAIL_CODES = {
    400: "400.1 Bad Request Content",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    404: "404 Not found",
    405: "405 Method Not Allowed",
    413: "413 Payload Too Large",
    411: "411 Length Required",
    415: "415 Unsupported Media Type",
    429: "429 Too Many Requests",
    500: "500.0 Internal Fault",
    502: "502 Bad Gateway",
    503: "503 Service Unavailable",
    504: "504 Gateway Timeout",
}


class ApiError(Exception):
    """An HTTP error answer; ``body`` is sent as JSON, ``headers`` are added to the response."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body if body is not None else error_response(status, message)
        self.headers = headers or {}


def error_response(status: int, text: str) -> dict[str, Any]:
    """SailPoint's ErrorResponseDto for ``status`` with one en-US message."""
    return {
        "detailCode": DETAIL_CODES.get(status, f"{status}"),
        "trackingId": uuid.uuid4().hex,
        "messages": [{"locale": "en-US", "localeOrigin": "DEFAULT", "text": text}],
        "causes": [],
    }


def bad_request(text: str) -> ApiError:
    return ApiError(400, text)


def not_found(text: str) -> ApiError:
    return ApiError(404, text)


def unauthorized(reason: str) -> ApiError:
    """The spec's 401 shape; ``reason`` never contains the token."""
    return ApiError(
        401,
        reason,
        body={"error": f"JWT validation failed: {reason}"},
        headers={"WWW-Authenticate": 'Bearer realm="simulated-tenant"'},
    )


def too_many_requests(retry_after: int) -> ApiError:
    """The spec's 429 shape with the Retry-After header (whole seconds, at least 1)."""
    return ApiError(
        429,
        "rate limit exceeded",
        body={"message": " Rate Limit Exceeded "},
        headers={"Retry-After": str(max(1, retry_after))},
    )
