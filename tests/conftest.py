"""Test-wide set-up: fake AWS credentials, Powertools settings, and moto's server over HTTP."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Set before any test module imports Powertools or boto3.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "sailpoint-event-triggers-test",
        "POWERTOOLS_METRICS_NAMESPACE": "SailPointEventTriggersTest",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
)
os.environ.pop("AWS_PROFILE", None)
# The product's tests drive handlers of their own (tests/product_handlers), never the user's room
# (layers/trigger_handlers), whose templates users rewrite: see tests/product_handlers/__init__.py.
# PYTHONPATH: the processes the tests start (local mode, bench scripts) import them too.
ROOT = str(Path(__file__).resolve().parent.parent)
os.environ["HANDLERS_PACKAGE"] = "tests.product_handlers"
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server on a free loopback port, shared by the session; tests reset it between uses."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point boto3 at moto (AWS_ENDPOINT_URL) with a clean state for this test."""
    import requests

    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=5)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    yield moto_endpoint


@contextmanager
def _capture(*logger_names: str) -> Iterator[io.StringIO]:
    """Lines written to these loggers, formatted as Powertools writes them (extras included)."""
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    Logger()  # configure the service logger first: its first set-up replaces existing handlers
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LambdaPowertoolsFormatter())
    loggers = [logging.getLogger(name) for name in logger_names]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield stream
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Every log line written during the test: the root logger's and the service's."""
    with _capture("", os.environ["POWERTOOLS_SERVICE_NAME"]) as stream:
        yield stream


@pytest.fixture
def service_logs() -> Iterator[io.StringIO]:
    """The service logger's lines only, once each (what handlers and templates log)."""
    with _capture(os.environ["POWERTOOLS_SERVICE_NAME"]) as stream:
        yield stream
