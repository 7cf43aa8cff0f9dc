"""SnapStart hooks, run in process as Lambda's runtime runs them: registered at init, the
before-snapshot hook warms what requests need, the after-restore hook leaves nothing shared between
restored copies (random state, cached secrets and tokens, pooled connections).

`snapshot_restore_py` exists only in Lambda's runtime, so each test installs a stand-in that records
the registered hooks, and calls them itself.
"""

from __future__ import annotations

import importlib
import json
import random
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest

import idn_triggers.handlers
from idn_triggers.callback import CallbackClient
from idn_triggers.catalogue import known_triggers
from idn_triggers.handlers import declared_handlers, handler_module
from idn_triggers.settings import WorkerSettings
from idn_triggers.snapstart import register, worker_hooks
from idn_triggers.worker import Worker
from tests.product_handlers import HANDLER_EXCEPTIONS, PACKAGE
from tests.support import FakeLambdaContext, load_event, load_function


def module(trigger_id: str) -> str:
    """The handler module of a trigger, by the registry's rule."""
    name = handler_module(trigger_id, PACKAGE, HANDLER_EXCEPTIONS)
    assert name is not None
    return name


class NamedTokens:
    """A token source that is only told apart by its name (the hooks must swap it, not use it)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def token(self) -> str:
        raise AssertionError("the hooks never ask for a token")

    def invalidate(self, token: str) -> None:
        raise AssertionError("the hooks never invalidate a token")


TOKEN = "local-dev-bearer-token"  # what events/api/*.bearer.json present
ENABLED = ("idn:access-request-pre-approval", "idn:identity-created")


class Runtime(ModuleType):
    """Stands in for Lambda's `snapshot_restore_py`: keeps the hooks it is given."""

    def __init__(self) -> None:
        super().__init__("snapshot_restore_py")
        self.before: list[Callable[[], None]] = []
        self.after: list[Callable[[], None]] = []

    def register_before_snapshot(self, hook: Callable[[], None]) -> Callable[[], None]:
        self.before.append(hook)
        return hook

    def register_after_restore(self, hook: Callable[[], None]) -> Callable[[], None]:
        self.after.append(hook)
        return hook

    def snapshot(self) -> None:
        for hook in self.before:
            hook()

    def restore(self) -> None:
        for hook in self.after:
            hook()


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Runtime:
    fake = Runtime()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake)
    return fake


@pytest.fixture
def never_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the handler modules and the queue contract for this test, as in a new container.

    Each is imported (and registered) first, so what the test undoes is what the process had."""
    for name in [*{module(t) for t in known_triggers()}, "idn_triggers.queue"]:
        importlib.import_module(name)
        package, _, attribute = name.rpartition(".")
        monkeypatch.delitem(sys.modules, name, raising=False)
        monkeypatch.delattr(sys.modules[package], attribute, raising=False)
    monkeypatch.setattr(idn_triggers.handlers, "_declared", {})


@pytest.fixture
def start_receiver(aws: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[], ModuleType]:
    def start() -> ModuleType:
        secrets = boto3.client("secretsmanager")
        arn = secrets.create_secret(Name="inbound", SecretString=json.dumps({"bearerToken": TOKEN}))["ARN"]
        queue_url = boto3.client("sqs").create_queue(QueueName="work")["QueueUrl"]
        for key, value in {
            "INBOUND_AUTH_TYPE": "BEARER_TOKEN",
            "INBOUND_SECRET_ID": arn,
            "INBOUND_SECRET_MAX_AGE": "300",  # cached, as a snapshot taken after a request holds it
            "ENABLED_TRIGGERS": ",".join(ENABLED),
            "WORK_QUEUE_URL": queue_url,
        }.items():
            monkeypatch.setenv(key, value)
        return load_function("receiver")

    return start


def draws() -> list[float]:
    return [random.random() for _ in range(4)]  # noqa: S311 - the state under test, not a secret


def status(module: ModuleType, event: dict[str, Any], token: str = TOKEN) -> int:
    event = {**event, "headers": {**event["headers"], "Authorization": f"Bearer {token}"}}
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    return int(module.lambda_handler(event, FakeLambdaContext())["statusCode"])


def test_the_receiver_registers_both_hooks_and_imports_handlers_only_when_snapshotted(
    runtime: Runtime, never_imported: None, start_receiver: Callable[[], ModuleType]
) -> None:
    start_receiver()
    assert (len(runtime.before), len(runtime.after)) == (1, 1)
    enabled_modules = {module(t) for t in ENABLED}
    assert not enabled_modules & set(sys.modules)  # lazy without a snapshot: cold import stays small

    runtime.snapshot()

    assert enabled_modules <= set(sys.modules)
    assert all(t in declared_handlers(module(t)) for t in ENABLED)  # models and validators built
    assert "idn_triggers.queue" in sys.modules
    assert module("idn:account-created") not in sys.modules  # disabled: never imported


def test_restored_copies_draw_their_own_random_numbers(
    runtime: Runtime, start_receiver: Callable[[], ModuleType]
) -> None:
    start_receiver()
    runtime.snapshot()
    snapshot = random.getstate()
    copies = []
    for _ in range(2):  # two environments restored from the same memory image
        random.setstate(snapshot)
        runtime.restore()
        copies.append(draws())
    assert copies[0] != copies[1]
    random.setstate(snapshot)  # without the hook they would agree
    unhooked = draws()
    random.setstate(snapshot)
    assert unhooked == draws()


def test_a_restored_receiver_reads_the_secret_anew(
    runtime: Runtime, start_receiver: Callable[[], ModuleType]
) -> None:
    # Given a receiver that answered once, so its snapshot would hold the secret
    module = start_receiver()
    runtime.snapshot()
    event = load_event("api/pre-approval.sync.bearer.json")
    assert status(module, event) == 200
    credentials = module.receiver.authenticator._credentials
    client_before = credentials._providers.get()[0]
    # When the credential is rotated after the snapshot
    boto3.client("secretsmanager").put_secret_value(
        SecretId="inbound", SecretString=json.dumps({"bearerToken": "rotated-after-snapshot"})
    )
    assert status(module, event) == 200  # the cached copy still accepts the old one
    # Then a restored copy forgets the cached secret and its SDK client
    runtime.restore()
    assert status(module, event) == 401
    assert status(module, event, "rotated-after-snapshot") == 200
    assert credentials._providers.get()[0] is not client_before


def test_a_restored_receiver_opens_its_own_queue_connections(
    runtime: Runtime, start_receiver: Callable[[], ModuleType]
) -> None:
    module = start_receiver()
    event = load_event("api/identity-created.json")
    assert status(module, event) == 200  # fire-and-forget: queued through SQS
    assert module.receiver.queue._sender.built
    runtime.restore()
    assert not module.receiver.queue._sender.built  # the SQS client and its pool are gone
    assert status(module, event) == 200  # and a new one is built on the next enqueue


def test_the_worker_hooks_warm_handlers_and_renew_tokens_sessions_and_clients(
    aws: str, never_imported: None
) -> None:
    fake = Runtime()
    tokens = [NamedTokens(f"provider-{i}") for i in range(3)]
    sqs = boto3.client("sqs")
    sqs.list_queues()  # a pooled connection to close
    callbacks = CallbackClient(tokens[0], timeout=1.0)
    callbacks.session.get(f"{aws}/moto-api/", timeout=5)
    registry = idn_triggers.handlers.HandlerRegistry(PACKAGE, HANDLER_EXCEPTIONS)
    settings = WorkerSettings.model_validate(
        {
            "TENANT_API_URL": "https://acme.api.identitynow.com",
            "SAILPOINT_CLIENT_SECRET_ID": "client",
            "TOKEN_SECRET_ID": "token",
            "IDEMPOTENCY_TABLE": "table",
            "WORK_QUEUE_URL": f"{aws}/123456789012/work",
            "DEAD_LETTER_QUEUE_URL": f"{aws}/123456789012/dlq",
            "ENABLED_TRIGGERS": ",".join(ENABLED),
        }
    )
    worker = Worker(settings, registry, callbacks, sqs)
    assert worker_hooks(worker, callbacks, iter(tokens[1:]).__next__, [], runtime=fake)

    fake.snapshot()
    assert {module(t) for t in ENABLED} <= set(sys.modules)

    pools = sqs._endpoint.http_session._manager.pools
    adapter_pools = callbacks.session.get_adapter(aws).poolmanager.pools
    assert len(pools) and len(adapter_pools)
    fake.restore()
    assert callbacks.tokens is tokens[1]  # a new provider: no cached token or secret
    assert len(pools) == 0 and len(adapter_pools) == 0
    sqs.list_queues()  # the client still works, on a new connection


def test_outside_lambda_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails, as outside Lambda
    assert register(lambda: None, lambda: None) is False
