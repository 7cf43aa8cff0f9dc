"""Reading SailPoint's HTTP answers: how long to wait (`Retry-After`) and what it said went wrong."""

from __future__ import annotations

import email.utils
import math
import time

import requests


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:  # an unparsable date is no Retry-After at all, not a crash of the completion
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def error_text(response: requests.Response) -> str:
    """SailPoint's message from an ErrorResponseDto (`messages[0].text`), or the other shapes it uses."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or ""
    if isinstance(body, dict):
        messages = body.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            return str(messages[0].get("text", ""))[:300]
        return str(body.get("message") or body.get("error_description") or body.get("error") or "")[:300]
    return ""
