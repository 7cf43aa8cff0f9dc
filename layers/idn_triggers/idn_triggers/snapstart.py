"""Lambda SnapStart runtime hooks: warm before the snapshot, renew after each restore.

With SnapStart (template parameter `SnapStart`), Lambda runs a published version's init once,
snapshots its memory and starts new execution environments from that snapshot. Hence:

- before the snapshot, do the work a first request would do (handler modules and trigger models,
  pydantic validators, the catalogue, boto3), so a restored copy answers at warm speed;
- after each restore, renew what restored copies must not share: the `random` module's state
  (seeded once, then copied into every environment), cached secrets and tokens (they may have been
  rotated since the snapshot), and pooled HTTP connections (their sockets did not survive it).

`snapshot_restore_py` is part of Lambda's Python runtime (3.12+) and nowhere else: without it the
hooks are not registered and cost nothing. Tests pass their own module to `register`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from idn_triggers.catalogue import known_triggers

if TYPE_CHECKING:
    from idn_triggers.callback import CallbackClient
    from idn_triggers.receiver import Receiver
    from idn_triggers.tokens import TokenSource
    from idn_triggers.worker import Worker

Hook = Callable[[], None]


def runtime_hooks() -> ModuleType | None:
    """Lambda's `snapshot_restore_py`, or None outside Lambda's runtime."""
    try:
        import snapshot_restore_py  # type: ignore[import-not-found]  # only in Lambda's runtime
    except ImportError:
        return None
    module: ModuleType = snapshot_restore_py
    return module


def register(before_snapshot: Hook, after_restore: Hook, runtime: ModuleType | None = None) -> bool:
    """Register both hooks with the runtime; False when there is no runtime to register with."""
    runtime = runtime or runtime_hooks()
    if runtime is None:
        return False
    runtime.register_before_snapshot(before_snapshot)
    runtime.register_after_restore(after_restore)
    return True


def reseed_random() -> None:
    """Reseed `random` from os.urandom, so restored copies do not draw the same sequence.

    (`secrets`, `uuid.uuid4` and `os.urandom` read the kernel and need nothing.)
    """
    random.seed()


def close_boto3_connections(client: Any) -> None:
    """Close a boto3 client's pooled connections; the client opens new ones on its next call.

    botocore has no public call for this: `_endpoint.http_session` is its URLLib3Session.
    """
    http_session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    if http_session is not None:
        http_session.close()


def receiver_hooks(receiver: Receiver, runtime: ModuleType | None = None) -> bool:
    """The receiver's hooks: warm what a SYNC answer needs; reseed, forget secrets, reconnect."""

    def after_restore() -> None:
        reseed_random()
        receiver.renew_after_restore()

    return register(receiver.warm, after_restore, runtime)


def worker_hooks(
    worker: Worker,
    callbacks: CallbackClient,
    new_tokens: Callable[[], TokenSource],
    clients: list[Any],
    runtime: ModuleType | None = None,
) -> bool:
    """The worker's hooks: import every enabled trigger's handler and models before the snapshot;
    after a restore reseed, take a fresh token provider (no cached token or secret) and close the
    callback session's and the SDK clients' (`worker.sqs` and `clients`) pooled connections."""

    def warm() -> None:
        for trigger_id in sorted(known_triggers()):
            if worker.settings.is_enabled(trigger_id) and worker.registry.has_handler(trigger_id):
                worker.registry.get(trigger_id)

    def after_restore() -> None:
        reseed_random()
        callbacks.tokens = new_tokens()
        callbacks.session.close()
        for client in [worker.sqs, *clients]:
            close_boto3_connections(client)

    return register(warm, after_restore, runtime)
