"""Fix and replay in local mode: SailPoint (the simulator) delivers over HTTP, the receiver and the
worker archive into moto's S3, and `idn-triggers-ops events replay` plays a time window again."""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from idn_local.runner import LocalRunner
from idn_simulator import InvocationState
from idn_tools import ops
from idn_triggers import handlers
from idn_triggers.archive import DeliveryArchive, Window, s3_client
from idn_triggers.envelope import DeliveryKind
from idn_triggers.handlers import HandlerContext, TriggerHandler
from idn_triggers.models.identity import IdentityCreated
from tests.e2e.conftest import E2E_BEARER
from tests.product_handlers import HANDLER_EXCEPTIONS, PACKAGE
from tests.support import trigger_document

pytestmark = pytest.mark.e2e
CREATED = "idn:identity-created"
PRE = "idn:access-request-pre-approval"
EVENTS = 100


def subscribe(local: LocalRunner, trigger_id: str, mode: str = "SYNC") -> None:
    assert local.tenant is not None
    for existing in local.tenant.list_subscriptions():
        if existing["triggerId"] == trigger_id:
            local.tenant.delete_subscription(existing["id"])
    local.tenant.create_subscription(
        {
            "name": f"archive e2e {trigger_id}",
            "triggerId": trigger_id,
            "type": "HTTP",
            "enabled": True,
            "httpConfig": {
                "url": local.webhook_url(trigger_id),
                "httpDispatchMode": mode,
                "httpAuthenticationType": "BEARER_TOKEN",
                "bearerTokenAuthConfig": {"bearerToken": E2E_BEARER},
            },
        }
    )


class Ledger:
    """What a handler recorded, from the worker's threads."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, DeliveryKind]] = []
        self.lock = threading.Lock()

    def add(self, value: str, delivery: DeliveryKind) -> None:
        with self.lock:
            self.entries.append((value, delivery))

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.entries) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.entries) >= count, f"{len(self.entries)} of {count} handled"


def swap_handler(monkeypatch: pytest.MonkeyPatch, trigger_id: str, handler: TriggerHandler) -> None:
    """What deploying a new version of the handler module does, for the running local stack."""
    module = handlers.handler_module(trigger_id, PACKAGE, HANDLER_EXCEPTIONS)
    assert module is not None
    importlib.import_module(module)
    monkeypatch.setitem(handlers._declared[module], trigger_id, handler)


def created_handler(function: Callable[..., Any]) -> TriggerHandler:
    return TriggerHandler(CREATED, function, IdentityCreated, None, True, True)


def archive_of(local: LocalRunner) -> DeliveryArchive:
    assert local.stack is not None
    return DeliveryArchive(local.stack.physical_ids["ArchiveBucket"], s3_client(local.aws_endpoint))


def wait_for_records(archive: DeliveryArchive, window: Window, trigger_id: str, count: int) -> list[str]:
    deadline = time.monotonic() + 15
    while (keys := archive.keys(window, trigger_id)) and len(keys) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return keys


def ops_main(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = ops.main(list(argv))
    return status, out.getvalue()


def where(local: LocalRunner) -> list[str]:
    assert local.stack is not None
    return [
        "--endpoint-url",
        local.aws_endpoint,
        "--bucket",
        local.stack.physical_ids["ArchiveBucket"],
    ]


def test_fix_and_replay_a_time_window_handles_every_event_again_exactly_once(
    local: LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert local.simulator is not None and local.stack is not None
    subscribe(local, CREATED)
    wrong, fixed = Ledger(), Ledger()

    def buggy(event: IdentityCreated, context: HandlerContext) -> None:
        wrong.add(str(event.identity.name), context.delivery)  # the bug: the name, not the id

    def corrected(event: IdentityCreated, context: HandlerContext) -> None:
        fixed.add(str(event.identity.id), context.delivery)

    # Given a handler with a bug, and 100 events SailPoint delivered through it
    swap_handler(monkeypatch, CREATED, created_handler(buggy))
    example = trigger_document(CREATED)["exampleInput"]
    ids = [f"e2e-identity-{n:03d}" for n in range(EVENTS)]
    since = datetime.now(UTC)
    for identity_id in ids:
        local.simulator.fire_event(
            CREATED, {**example, "identity": {**example["identity"], "id": identity_id}}
        )
    wrong.wait_for(EVENTS)
    window = Window(since, datetime.now(UTC) + timedelta(seconds=1))
    archive = archive_of(local)
    assert len(wait_for_records(archive, window, CREATED, EVENTS)) == EVENTS
    # When the fixed handler is deployed and the time window is replayed
    swap_handler(monkeypatch, CREATED, created_handler(corrected))
    status, out = ops_main(
        "events",
        "replay",
        *where(local),
        "--queue-url",
        local.stack.physical_ids["WorkQueue"],
        "--trigger",
        CREATED,
        "--since",
        window.since.isoformat(),
        "--until",
        window.until.isoformat(),
    )
    assert status == 0, out
    assert f"replayed {EVENTS} event(s)" in out
    fixed.wait_for(EVENTS)
    time.sleep(1.0)  # a duplicate would arrive within a poll or two
    # Then every event was handled again exactly once, and the handler knew it was a replay
    assert sorted(value for value, _ in fixed.entries) == ids
    assert {delivery for _, delivery in fixed.entries} == {DeliveryKind.REPLAY}
    assert {delivery for _, delivery in wrong.entries} == {DeliveryKind.LIVE}
    # And the replays are in the archive, each pointing at its original
    replays = [
        r
        for r in archive.records(
            archive.keys(Window(since, datetime.now(UTC) + timedelta(seconds=1)), CREATED)
        )
        if r.delivery is DeliveryKind.REPLAY
    ]
    assert len(replays) == EVENTS and len({r.replay_of for r in replays}) == EVENTS


def test_a_replayed_request_response_runs_the_handler_but_never_completes_again(
    local: LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert local.simulator is not None and local.stack is not None
    subscribe(local, PRE, "SYNC")
    [record] = local.simulator.fire_event(PRE)
    record = local.simulator.wait_for_invocation(lambda r: r.id == record.id and r.settled, timeout=10)
    assert record.state is InvocationState.COMPLETED
    archive = archive_of(local)
    window = Window(record.created - timedelta(seconds=1), datetime.now(UTC) + timedelta(seconds=1))
    [key] = wait_for_records(archive, window, PRE, 1)
    original = archive.get(key)
    assert (original.mode, original.status_code, original.answer) == ("SYNC", 200, record.output)
    seen: list[DeliveryKind] = []
    live = handlers.HandlerRegistry(PACKAGE, HANDLER_EXCEPTIONS).get(PRE)
    assert live is not None

    def watching(event: Any, context: HandlerContext) -> Any:
        seen.append(context.delivery)
        return live.function(event, context) if live.wants_context else live.function(event)

    swap_handler(
        monkeypatch,
        PRE,
        TriggerHandler(PRE, watching, live.input_model, live.output_model, live.output_optional, True),
    )
    invocations_before = len(local.simulator.invocations())
    # When that event is replayed by its id
    status, out = ops_main(
        "events",
        "replay",
        original.event_id,
        *where(local),
        "--queue-url",
        local.stack.physical_ids["WorkQueue"],
    )
    assert status == 0, out
    deadline = time.monotonic() + 15
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    # Then the handler ran once as a replay, and SailPoint's invocation was left as it was
    assert seen == [DeliveryKind.REPLAY]
    after = next(r for r in local.simulator.invocations() if r.id == record.id)
    assert (after.state, after.attempts, after.output) == (record.state, record.attempts, record.output)
    assert len(local.simulator.invocations()) == invocations_before


@pytest.mark.iam_denials_expected  # the roles may write only the stack's own bucket, so IAM refuses
def test_an_unavailable_archive_never_changes_what_sailpoint_receives(
    local: LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert local.simulator is not None
    receiver = sys.modules["local_fn_ReceiverFunction"].receiver
    worker = sys.modules["local_fn_WorkerFunction"].worker

    def outcomes() -> list[tuple[Any, ...]]:
        settled = []
        for trigger_id, mode in ((PRE, "SYNC"), (PRE, "ASYNC"), (PRE, "DYNAMIC"), (CREATED, "SYNC")):
            subscribe(local, trigger_id, mode)
            [fired] = local.simulator.fire_event(trigger_id)
            done = local.simulator.wait_for_invocation(
                lambda r, wanted=fired.id: r.id == wanted and r.settled, timeout=15
            )
            assert done.delivery is not None
            settled.append(
                (trigger_id, mode, done.state, done.delivery.status, done.delivery.body, done.output)
            )
        return settled

    # Given what SailPoint receives with the archive working
    expected = outcomes()
    # When the bucket is unavailable to both functions
    monkeypatch.setattr(receiver.archive.archive, "bucket", "no-such-archive-bucket")
    monkeypatch.setattr(worker.archive.archive, "bucket", "no-such-archive-bucket")
    # Then SailPoint receives exactly the same in every mode
    assert outcomes() == expected
    assert all(state is InvocationState.COMPLETED for _, _, state, *_ in expected)
