"""Every error the library raises on purpose, each knowing its HTTP status.

Mapping to HTTP happens only here (`http_status`, `public_body`), so handlers and functions never
pick status codes themselves. Public messages never contain payload values: identity data is PII.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any


class TriggerError(Exception):
    """Base class: an expected failure with a status code and a message safe to return."""

    status_code: int = 400
    outcome: str = "rejected"

    def __init__(self, message: str, *, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.public_message = message
        self.details = details or []

    def public_body(self) -> dict[str, Any]:
        """The JSON body sent to the caller: the message and, for validation errors, field paths."""
        body: dict[str, Any] = {"message": self.public_message}
        if self.details:
            body["errors"] = self.details
        return body


class ConfigurationError(TriggerError):
    """The deployment is misconfigured (missing variable, malformed secret): fail fast and loudly.

    The detailed reason goes to the logs (str(error)); the caller only learns that it is our fault.
    """

    status_code = 503
    outcome = "misconfigured"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.public_message = "receiver is misconfigured; see its logs"


class AuthenticationFailed(TriggerError):
    """Missing or wrong credential; never says which part was wrong."""

    status_code = 401
    outcome = "unauthorized"

    def __init__(self) -> None:
        super().__init__("authentication required")


class CredentialStoreUnavailable(TriggerError):
    """The inbound credential could not be read, so no caller can be authenticated."""

    status_code = 503
    outcome = "credential_store_unavailable"

    def __init__(self) -> None:
        super().__init__("receiver cannot verify credentials right now; try again later")


class UnknownTrigger(TriggerError):
    """The path names a trigger this receiver does not serve."""

    status_code = 404
    outcome = "unknown_trigger"


class MalformedBody(TriggerError):
    """The body is not a JSON object (or not UTF-8)."""

    outcome = "malformed_body"


class InvalidPayload(TriggerError):
    """The JSON is well formed but fails the trigger's model; details name the field paths."""

    outcome = "invalid_payload"

    @classmethod
    def from_pydantic(
        cls,
        message: str,
        errors: Iterable[Mapping[str, Any]],
        prefix: str = "",
        field_names: Collection[str] | None = None,
    ) -> InvalidPayload:
        """Keep the location and the problem of each pydantic error, never the offending input. With
        `field_names` (the model's), any other name in a location is a key of a free-form mapping in
        the payload, i.e. data, and is shown as `*`."""
        details = []
        for error in errors:
            parts = error.get("loc", ())
            if field_names is not None:
                parts = tuple(p if not isinstance(p, str) or p in field_names else "*" for p in parts)
            path = ".".join(str(part) for part in parts)
            if prefix:
                path = f"{prefix}.{path}" if path else prefix
            details.append({"field": path or "(body)", "problem": str(error.get("msg", "invalid"))})
        return cls(message, details=details)


class UnsupportedResponseMode(TriggerError):
    """The delivery asks for a response mode this deployment cannot honour."""

    outcome = "unsupported_mode"


class PayloadTooLarge(TriggerError):
    """The delivery is too large to queue for the worker."""

    status_code = 413
    outcome = "too_large"


class QueueUnavailable(TriggerError):
    """The invocation could not be stored; SailPoint must see a failure, not an acknowledgement."""

    status_code = 503
    outcome = "queue_unavailable"

    def __init__(self) -> None:
        super().__init__("receiver could not store the invocation; it was not accepted")


class HandlerFailed(TriggerError):
    """The user's handler raised: the one documented 500."""

    status_code = 500
    outcome = "handler_failed"

    def __init__(self) -> None:
        super().__init__("the trigger handler failed; see the receiver's logs")


class HandlerLate(HandlerFailed):
    """The user's handler was still running when SailPoint's answer was due (the watchdog)."""

    outcome = "handler_late"

    def __init__(self) -> None:
        TriggerError.__init__(self, "the trigger handler did not answer in time; see the receiver's logs")


class InvalidHandlerOutput(TriggerError):
    """The handler's answer does not fit the trigger's output model; it must never reach SailPoint."""

    status_code = 500
    outcome = "invalid_output"

    def __init__(self) -> None:
        super().__init__("the trigger handler produced an invalid answer; see the receiver's logs")
