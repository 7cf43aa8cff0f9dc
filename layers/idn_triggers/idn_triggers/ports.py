"""What the receiver and the worker need from the outside, as Protocols.

The production classes (QueueSender, InboundAuthenticator, CallbackClient, boto3's SQS client)
satisfy them, and so does any fake a test passes: the logic depends on these shapes, not on the
classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from idn_triggers.archive import ArchivedDelivery
    from idn_triggers.callback import CallbackResult
    from idn_triggers.queue import QueuedInvocation


class InvocationQueue(Protocol):
    """Where the receiver puts what the worker will process (SQS in production)."""

    def send(self, message: QueuedInvocation, /) -> str: ...


class Authenticator(Protocol):
    """Checks a request's Authorization header; raises AuthenticationFailed."""

    def authenticate(self, headers: Mapping[str, str] | None, /) -> None: ...

    def forget_cached_credentials(self) -> None:
        """Read the credential afresh on the next request (after a SnapStart restore)."""


class Completions(Protocol):
    """Completes an invocation at SailPoint through its callback URL."""

    def complete(
        self, callback_url: str, secret: str, /, *, output: Any = None, error: str | None = None
    ) -> CallbackResult: ...


class QueueClient(Protocol):
    """The two calls the worker makes on boto3's SQS client. `*args, **kwargs` of Any is mypy's
    "any signature": boto3's typed keyword arguments and a test's recording fake both fit."""

    def send_message(self, *args: Any, **kwargs: Any) -> Any: ...

    def change_message_visibility(self, *args: Any, **kwargs: Any) -> Any: ...


class DeliveryRecorder(Protocol):
    """Keeps a record of a delivery (the S3 archive in production); never raises, returns whether
    the record was stored."""

    def record(self, record: ArchivedDelivery, /) -> bool: ...
