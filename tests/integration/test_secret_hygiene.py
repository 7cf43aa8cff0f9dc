"""No credential ever reaches a log line, a metric or a trace.

Representative scenarios run with known credential values: SYNC, ASYNC (completed by the worker),
DYNAMIC (answered and deferred), fire-and-forget, wrong credentials, a completion SailPoint refuses
(dead-lettered). The whole stack runs in local mode (receiver, worker, token refresher, moto, the
tenant simulator) with every log level at DEBUG, the worst case an operator can configure. Then
every captured line is searched for each value:

- log records of every logger in this process (root and the service logger, Powertools' JSON
  formatter, at DEBUG), except the emulators' own (moto, werkzeug), which are not the product;
- everything written to stdout and stderr (the functions' Powertools logs and EMF metric lines);
- every trace annotation and metadata value handed to the tracer (a recording provider);
- every record of the delivery archive (moto's S3), which keeps payloads and answers of every mode.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import numbers
import time
from collections.abc import Generator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Any

import boto3
import pytest
import requests
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from idn_simulator import InvocationState
from idn_simulator.oauth import IssuedTokens
from tests.support import FakeLambdaContext, load_event, load_function

PRE = "idn:access-request-pre-approval"
FIRE_AND_FORGET = "idn:identity-created"
INBOUND_BEARER = "hygiene-inbound-bearer-Qm9vZ2x5"
WRONG_BEARER = "hygiene-wrong-bearer-UzNjcjN0"
CLIENT_SECRET = "hygiene-client-secret-c2VjcmV0"
BASIC_PASSWORD = "hygiene-basic-password-cGFzcw"
WRONG_PASSWORD = "hygiene-wrong-password-d3Jvbmc"
EMULATORS = ("moto", "werkzeug", "flask")


class RecordingSegment(BaseSegment):
    """The subsegment the recording provider hands out: it records what is put on it."""

    def __init__(self, values: list[str]) -> None:
        self.values = values

    def close(self, end_time: int | None = None) -> None:
        return None

    def add_subsegment(self, subsegment: Any) -> None:
        return None

    def remove_subsegment(self, subsegment: Any) -> None:
        return None

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        self.values.append(f"{key}={value!r}")

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.values.append(f"{namespace}:{key}={value!r}")

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        self.values.append(repr(exception))


class RecordingTracer(BaseProvider):
    """A Powertools tracing provider that keeps every annotation and metadata value."""

    def __init__(self) -> None:
        self.values: list[str] = []

    @contextmanager
    def in_subsegment(self, name: str | None = None, **_: Any) -> Generator[BaseSegment]:
        self.values.append(str(name))
        yield RecordingSegment(self.values)

    def in_subsegment_async(
        self, name: str | None = None, **_: Any
    ) -> AbstractAsyncContextManager[BaseSegment]:
        raise NotImplementedError

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        self.values.append(f"{key}={value!r}")

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.values.append(f"{namespace}:{key}={value!r}")

    def patch(self, modules: Sequence[str]) -> None:
        return None

    def patch_all(self) -> None:
        return None


class EverythingHandler(logging.Handler):
    """Formats every record of the product's loggers the way Powertools would (extras included)."""

    def __init__(self) -> None:
        from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

        super().__init__(logging.DEBUG)
        self.setFormatter(LambdaPowertoolsFormatter())
        self.stream = io.StringIO()
        self.records = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in EMULATORS:
            return
        self.records += 1
        try:
            self.stream.write(self.format(record) + "\n")
        except Exception:  # a record that cannot be formatted still must not hide a value
            self.stream.write(f"{record.name} {record.msg} {record.args}\n")


@pytest.fixture
def everything_logged(monkeypatch: pytest.MonkeyPatch) -> Iterator[EverythingHandler]:
    """Root at DEBUG, and every record any logger handles also goes to one handler, whatever that
    logger's handlers and propagation (Powertools' service loggers do not propagate)."""
    from aws_lambda_powertools import Logger

    Logger()
    handler = EverythingHandler()
    root = logging.getLogger()
    saved = root.level
    root.setLevel(logging.DEBUG)
    original = logging.Logger.handle

    def handle(self: logging.Logger, record: logging.LogRecord) -> None:
        handler.handle(record)
        original(self, record)

    monkeypatch.setattr(logging.Logger, "handle", handle)
    yield handler
    monkeypatch.undo()
    root.setLevel(saved)


@pytest.fixture
def traces() -> Iterator[RecordingTracer]:
    from aws_lambda_powertools import Tracer

    saved = dict(Tracer._config)
    provider = RecordingTracer()
    Tracer(provider=provider, auto_patch=False)
    yield provider
    Tracer._config = saved


@pytest.fixture
def issued_tokens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every access token the simulated tenant issues (the values to look for)."""
    issued: list[str] = []
    original = IssuedTokens.issue

    def issue(self: IssuedTokens, client_id: str | None, client_secret: str | None) -> tuple[str, int]:
        token, lifetime = original(self, client_id, client_secret)
        issued.append(token)
        return token, lifetime

    monkeypatch.setattr(IssuedTokens, "issue", issue)
    return issued


def subscribe(runner: LocalRunner, trigger_id: str, mode: str) -> None:
    assert runner.tenant is not None
    for existing in runner.tenant.list_subscriptions():
        if existing["triggerId"] == trigger_id:
            runner.tenant.delete_subscription(existing["id"])
    runner.tenant.create_subscription(
        {
            "name": f"hygiene {mode}",
            "triggerId": trigger_id,
            "type": "HTTP",
            "enabled": True,
            "httpConfig": {
                "url": runner.webhook_url(trigger_id),
                "httpDispatchMode": mode,
                "httpAuthenticationType": "BEARER_TOKEN",
                "bearerTokenAuthConfig": {"bearerToken": INBOUND_BEARER},
            },
        }
    )


def settle(runner: LocalRunner, trigger_id: str, payload: dict[str, Any] | None = None) -> Any:
    assert runner.simulator is not None
    [record] = runner.simulator.fire_event(trigger_id, payload)
    return runner.simulator.wait_for_invocation(lambda r: r.id == record.id and r.settled, timeout=30)


def wait_for_dead_letter(runner: LocalRunner, invocation_id: str) -> None:
    assert runner.stack is not None
    sqs = boto3.client("sqs", endpoint_url=runner.aws_endpoint)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=runner.stack.physical_ids["DeadLetterQueue"],
            MessageAttributeNames=["All"],
            VisibilityTimeout=0,
            MaxNumberOfMessages=10,
        ).get("Messages", [])
        if any(m["MessageAttributes"]["invocationId"]["StringValue"] == invocation_id for m in messages):
            return
        time.sleep(0.2)
    raise AssertionError("the refused completion never reached the DLQ")


def archived_records(runner: LocalRunner, modes: set[str]) -> str:
    """Every object of the archive bucket, once records of all `modes` are there (the worker writes
    its records after completing, so they may trail the simulator's view by a moment)."""
    assert runner.stack is not None
    s3 = boto3.client("s3", endpoint_url=runner.aws_endpoint)
    bucket = runner.stack.physical_ids["ArchiveBucket"]
    deadline = time.monotonic() + 15
    while True:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        bodies = [s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode() for key in keys]
        if modes <= {json.loads(body)["mode"] for body in bodies} or time.monotonic() > deadline:
            return "\n".join(bodies)
        time.sleep(0.2)


def assert_nowhere(values: dict[str, str], *sources: tuple[str, str]) -> None:
    hits = [
        f"{name} in {where}"
        for name, value in values.items()
        for where, text in sources
        if value and (value in text or json.dumps(value)[1:-1] in text)
    ]
    assert hits == [], hits


def test_no_credential_in_logs_metrics_or_traces_across_every_mode(
    everything_logged: EverythingHandler,
    traces: RecordingTracer,
    issued_tokens: list[str],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = LocalOptions(
        port=0,
        auth=InboundAuth.parse(f"bearer:{INBOUND_BEARER}"),
        client_secret=CLIENT_SECRET,
        parameter_overrides={"LogLevel": "DEBUG"},
    )
    monkeypatch.setenv("PRODUCT_TEST_REVIEW_ITEMS", "Engineering Access")  # tests/product_handlers
    callback_secrets: list[str] = []
    with LocalRunner(options) as runner:
        assert runner.simulator is not None
        # Provisioning (local mode's stand-in for CloudFormation) writes the secrets through boto3,
        # which botocore logs at DEBUG; that is set-up, not the product: scanning starts here.
        everything_logged.stream = io.StringIO()
        subscribe(runner, PRE, "SYNC")
        sync = settle(runner, PRE)
        subscribe(runner, PRE, "ASYNC")
        completed = settle(runner, PRE)
        subscribe(runner, PRE, "DYNAMIC")
        deferred = settle(runner, PRE)  # "Engineering Access" is reviewed: 202, then the worker
        answered_input = json.loads(json.dumps(sync.input))
        answered_input["requestedItems"][0]["name"] = "Read-only Access"
        answered = settle(runner, PRE, answered_input)
        subscribe(runner, FIRE_AND_FORGET, "SYNC")
        fired = settle(runner, FIRE_AND_FORGET)
        subscribe(runner, PRE, "ASYNC")
        runner.simulator.faults.fail_next_completions(1, status=400)  # refused: dead-lettered
        [refused] = runner.simulator.fire_event(PRE)
        wait_for_dead_letter(runner, refused.id)
        for wrong in (f"Bearer {WRONG_BEARER}", WRONG_BEARER, f"Basic {WRONG_BEARER}"):
            answer = requests.post(
                runner.webhook_url(PRE), json=sync.input, headers={"Authorization": wrong}, timeout=5
            )
            assert answer.status_code == 401
        duplicate = {
            **refused.input,
            "_metadata": {
                "callbackURL": refused.callback_url,
                "secret": refused.secret,
                "responseMode": "async",
                "triggerId": PRE,
            },
        }
        requests.post(
            runner.webhook_url(PRE),
            json=duplicate,
            headers={"Authorization": f"Bearer {INBOUND_BEARER}"},
            timeout=5,
        )
        callback_secrets = [r.secret for r in runner.simulator.invocations()]
        archived = archived_records(runner, {"SYNC", "ASYNC", "DYNAMIC", "FIRE_AND_FORGET"})

    assert [r.state for r in (sync, completed, deferred, answered, fired)] == [InvocationState.COMPLETED] * 5
    assert completed.completed_via == deferred.completed_via == "callback"  # both by the worker
    assert issued_tokens and callback_secrets
    values = {
        "inbound bearer": INBOUND_BEARER,
        "wrong bearer": WRONG_BEARER,
        "client secret": CLIENT_SECRET,
        **{f"access token {i}": token for i, token in enumerate(issued_tokens)},
        **{f"callback secret {i}": secret for i, secret in enumerate(callback_secrets)},
    }
    output = capfd.readouterr()
    logged = everything_logged.stream.getvalue()
    assert everything_logged.records > 50 and "invocation completed" in output.out + logged
    assert "CloudWatchMetrics" in output.out
    modes = {json.loads(line)["mode"] for line in archived.splitlines()}
    assert modes == {"SYNC", "ASYNC", "DYNAMIC", "FIRE_AND_FORGET"}, modes  # the archive was scanned
    assert_nowhere(
        values,
        ("log records", logged),
        ("stdout", output.out),
        ("stderr", output.err),
        ("traces", "\n".join(traces.values)),
        ("archive", archived),
    )


def test_basic_auth_passwords_never_logged(
    aws: str,
    monkeypatch: pytest.MonkeyPatch,
    everything_logged: EverythingHandler,
    capfd: pytest.CaptureFixture[str],
) -> None:
    secret = {"userName": "sailpoint", "password": BASIC_PASSWORD}
    arn = boto3.client("secretsmanager").create_secret(Name="hygiene-basic", SecretString=json.dumps(secret))[
        "ARN"
    ]
    monkeypatch.setenv("INBOUND_AUTH_TYPE", "BASIC_AUTH")
    monkeypatch.setenv("INBOUND_SECRET_ID", arn)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    module = load_function("receiver")
    event = load_event("api/pre-approval.sync.bearer.json")
    statuses = []
    for password in (BASIC_PASSWORD, WRONG_PASSWORD):
        header = "Basic " + base64.b64encode(f"sailpoint:{password}".encode()).decode()
        headers = {**event["headers"], "Authorization": header}
        response = module.lambda_handler(
            {**event, "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()}},
            FakeLambdaContext(),
        )
        statuses.append(response["statusCode"])
    assert statuses == [200, 401]
    output = capfd.readouterr()
    values = {
        "basic password": BASIC_PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "basic header": base64.b64encode(f"sailpoint:{BASIC_PASSWORD}".encode()).decode(),
    }
    assert_nowhere(
        values,
        ("log records", everything_logged.stream.getvalue()),
        ("stdout", output.out),
        ("stderr", output.err),
    )
